"""Every route with an id, times (own id, another tenant's id, a nonexistent id): another tenant's task and
a task that does not exist get byte-identical answers, so ids leak nothing."""

import json

import httpx
import pytest

from asyncinfer.domain.model import TaskKind, TaskStatus, WebhookTarget, new_task_id
from asyncinfer.domain.responses import response_id
from asyncinfer.handlers import api_responses
from asyncinfer.routes import ROUTES
from asyncinfer.surfaces import anthropic_batches
from asyncinfer.surfaces import openai_batches as batches_view
from asyncinfer.surfaces.async_api import public_id
from asyncinfer.tasks.webhooks import delivery_id
from tests.conftest import load_event
from tests.integration.test_sample_events import through_web_adapter
from tests.integration.test_store import make_task

BATCH = json.loads(load_event("api_batches_create")["body"])

pytestmark = pytest.mark.integration
# Every route that reads something a tenant owns by its id (the models are the deployment's, the same to all).
ID_ROUTES = [r for r in ROUTES if "{id}" in r.path and not r.path.startswith("/v1/models/")]


def call(aws, route, task_id, tenant):
    path = route.path.replace("{id}", task_id)
    if route.streaming:
        event = load_event("stream_async_events")
        event["path"], event["httpMethod"] = path, route.method
        event["requestContext"]["authorizer"]["tenant"] = tenant
        response = through_web_adapter(event, app=api_responses.web if route.function == "api_responses" else None)
        return response.status_code, response.text
    sent = {} if route.path.endswith("/retry") else None  # the retry's body: its defaults
    status, body = aws.api(route.method, path, body=sent, tenant=tenant, function=route.function)
    return status, json.dumps(body, sort_keys=True)


def owned(aws, route) -> tuple[str, str]:
    """An id of the route's kind (task, batch, webhook delivery) that tenant acme owns, and one nobody does."""
    if route.path.startswith("/v1/files/"):
        upload = httpx.Request(
            "POST", "http://x/v1/files", files={"file": ("a.jsonl", b"{}\n")}, data={"purpose": "batch"}
        )
        headers = {"content-type": upload.headers["content-type"]}
        status, file = aws.api(
            "POST", "/v1/files", body=upload.read().decode(), headers=headers, function="api_batches"
        )
        assert status == 200, file
        return file["id"], "file-" + new_task_id()
    if route.path.startswith("/v1/messages/batches/"):
        status, batch = aws.api("POST", "/v1/messages/batches", body=anthropic_batches.EXAMPLE, function="api_batches")
        assert status == 200, batch
        return batch["id"], anthropic_batches.public_id(new_task_id())
    if route.path.startswith("/v1/batches/"):
        status, batch = aws.api("POST", "/v1/batches", body=BATCH, function="api_batches")
        assert status == 200, batch
        return batch["id"], batches_view.public_id(new_task_id())
    kind = TaskKind.IMAGE if route.path.startswith("/v1/generation") else TaskKind.CHAT
    hook = WebhookTarget(url="https://hooks.example.com/x") if route.path.startswith("/v1/webhooks/") else None
    theirs = make_task(tenant="acme", kind=kind, status=TaskStatus.IN_PROGRESS, webhook=hook)
    aws.store.create(theirs)
    aws.store.transition("acme", theirs.id, expect={TaskStatus.IN_PROGRESS}, changes={"status": TaskStatus.COMPLETED})
    if hook is not None:
        aws.run_notifier()  # the ending makes the task's delivery ...
        aws.run_queue("webhook_sender")  # ... which fails (no such host here), so it may be redelivered
        return delivery_id(theirs.id, "task.completed"), delivery_id(new_task_id(), "task.completed")
    if route.path.startswith("/v1/responses/"):
        return response_id(theirs.id), response_id(new_task_id())
    return public_id(theirs.id), public_id(new_task_id())


@pytest.mark.parametrize("route", ID_ROUTES, ids=lambda r: f"{r.method} {r.path}")
def test_another_tenants_id_reads_exactly_like_a_nonexistent_one(aws, route):
    theirs, nobodys = owned(aws, route)
    other = call(aws, route, theirs, tenant="intruder")
    missing = call(aws, route, nobodys, tenant="intruder")
    assert other == missing
    assert other[0] == 404
    own = call(aws, route, theirs, tenant="acme")
    if route.method == "DELETE" and route.path.startswith("/v1/messages/batches/"):
        # Anthropic deletes only an ended batch: its owner is told so, where another tenant got a 404.
        assert own[0] == 400 and json.loads(own[1])["error"]["code"] == "batch_not_ended", own
        return
    if route.path.endswith("/retry"):  # its owner's batch still runs: nothing to retry yet
        assert own[0] == 400 and json.loads(own[1])["error"]["code"] == "batch_not_ended", own
        return
    assert own[0] == (302 if route.path.endswith("/content") else 200), own
