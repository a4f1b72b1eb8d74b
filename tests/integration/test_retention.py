"""Reads never return an expired task, even while DynamoDB's TTL deletion lags behind."""

import time

import pytest

from asyncinfer.domain.ids import as_uuid
from asyncinfer.domain.model import TaskStatus
from asyncinfer.domain.submission import IDEMPOTENCY, fingerprint
from asyncinfer.store.base import NameClaim
from asyncinfer.surfaces.async_api import public_id
from tests.conftest import load_event
from tests.integration.conftest import REFERENCE_BODY
from tests.integration.test_sample_events import through_web_adapter
from tests.integration.test_store import make_task

pytestmark = pytest.mark.integration


def expired_and_live(aws):
    now = int(time.time())
    expired = make_task(status=TaskStatus.COMPLETED, expires_at=now - 1, result={"choices": []})
    live = make_task(status=TaskStatus.COMPLETED, expires_at=now + 3600, result={"choices": []})
    aws.store.create(expired)
    aws.store.create(live)
    return expired, live


def test_an_expired_task_reads_as_not_found_on_every_surface(aws):
    expired, live = expired_and_live(aws)
    for task, status in ((expired, 404), (live, 200)):
        assert aws.api("GET", f"/v1/async/{public_id(task.id)}")[0] == status
        assert aws.api("GET", f"/async/chat/completions/{as_uuid(task.id)}", function="api_perplexity")[0] == status
        assert aws.api("GET", f"/v1/messages/async/msg_{task.id}/status", function="api_privategpt")[0] == status
    assert aws.api("POST", f"/v1/async/{public_id(expired.id)}/cancel")[0] == 404
    assert aws.api("DELETE", f"/v1/async/{public_id(expired.id)}")[0] == 404
    listed = aws.api("GET", "/v1/async")[1]["tasks"]
    assert [t["id"] for t in listed] == [public_id(live.id)]


def test_an_expired_task_has_no_stream(aws):
    expired, _ = expired_and_live(aws)
    event = load_event("stream_async_events")
    event["path"] = f"/v1/async/{public_id(expired.id)}/events"
    assert through_web_adapter(event).status_code == 404


def test_an_idempotency_key_of_an_expired_task_makes_a_new_task(aws):
    now = int(time.time())
    old = make_task(status=TaskStatus.COMPLETED, expires_at=now - 1)
    fp = fingerprint("async", REFERENCE_BODY)
    aws.store.create(old, [NameClaim(IDEMPOTENCY, "reused", fp)])
    status, created = aws.api("POST", "/v1/async", body=REFERENCE_BODY, headers={"Idempotency-Key": "reused"})
    assert status == 200 and created["id"] != public_id(old.id) and created["status"] == "CREATED"
    assert aws.store.get_name("acme", IDEMPOTENCY, "reused").task_id != old.id
