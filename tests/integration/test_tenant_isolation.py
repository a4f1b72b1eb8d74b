"""Every route with an id, times (own id, another tenant's id, a nonexistent id): another tenant's task and
a task that does not exist get byte-identical answers, so ids leak nothing."""

import json

import pytest

from asyncinfer.routes import ROUTES
from asyncinfer.tasks.dialects.async_api import public_id
from asyncinfer.tasks.model import TaskKind, TaskStatus, new_task_id
from tests.conftest import load_event
from tests.integration.test_sample_events import through_web_adapter
from tests.integration.test_store import make_task

pytestmark = pytest.mark.integration
ID_ROUTES = [r for r in ROUTES if "{id}" in r.path]


def call(aws, route, task_id, tenant):
    path = route.path.replace("{id}", task_id)
    if route.streaming:
        event = load_event("stream_async_events")
        event["path"] = path
        event["requestContext"]["authorizer"]["tenant"] = tenant
        response = through_web_adapter(event)
        return response.status_code, response.text
    status, body = aws.api(route.method, path, tenant=tenant, function=route.function)
    return status, json.dumps(body, sort_keys=True)


@pytest.mark.parametrize("route", ID_ROUTES, ids=lambda r: f"{r.method} {r.path}")
def test_another_tenants_id_reads_exactly_like_a_nonexistent_one(aws, route):
    kind = TaskKind.IMAGE if route.path.startswith("/v1/generation") else TaskKind.CHAT
    theirs = make_task(tenant="acme", kind=kind, status=TaskStatus.COMPLETED, result={"choices": []})
    aws.store.create(theirs)
    other = call(aws, route, public_id(theirs.id), tenant="intruder")
    missing = call(aws, route, public_id(new_task_id()), tenant="intruder")
    assert other == missing
    assert other[0] == 404
    own = call(aws, route, public_id(theirs.id), tenant="acme")
    assert own[0] == 200, own
    # And nothing the intruder did changed the owner's task (only the owner's own call above may have).
    assert aws.store.get("acme", theirs.id) is not None
