"""GET /v1/async/{id}/events: the task's event log as a real, resumable Server-Sent Events stream."""

import json
import uuid

import pytest

from asyncinfer.ops.sse import sse_events
from tests.e2e.conftest import wait_for
from tests.e2e.test_async_api import REFERENCE, submit

pytestmark = pytest.mark.e2e


def deltas(events: list[dict]) -> str:
    return "".join(json.loads(e["data"])["text"] for e in events if e.get("event") == "delta")


def test_a_client_that_drops_mid_stream_resumes_with_last_event_id_and_misses_nothing(stack):
    with stack.client() as client:
        task_id = submit(client)["id"]
        first: list[dict] = []
        with client.stream("GET", f"/v1/async/{task_id}/events", timeout=30) as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            for event in sse_events(response):
                if event.get("event") == "status":
                    continue  # made by the stream, not in the log: no id (tests/integration/test_stream_status.py)
                first.append(event)
                if len(first) == 1:
                    # It really streams: the first event arrives while the task is still running.
                    assert client.get(f"/v1/async/{task_id}").json()["status"] == "IN_PROGRESS"
                if len(first) == 3:
                    break  # hang up mid-stream
        assert all(e.get("event") == "delta" for e in first)

        rest: list[dict] = []
        headers = {"Last-Event-ID": first[-1]["id"]}
        with client.stream("GET", f"/v1/async/{task_id}/events", headers=headers, timeout=30) as response:
            assert response.status_code == 200
            rest = [e for e in sse_events(response) if e.get("event") != "status"]  # ends when the task ends

        final = client.get(f"/v1/async/{task_id}").json()
    assert rest[-1]["event"] == "end"
    assert json.loads(rest[-1]["data"])["status"] == final["status"] == "COMPLETED"
    ids = [int(e["id"]) for e in first + rest[:-1]]
    assert ids == list(range(1, len(ids) + 1)), "every event exactly once, in order"
    assert deltas(first + rest) == final["choices"][0]["message"]["content"]


def test_connecting_after_completion_replays_the_whole_stream(stack):
    with stack.client() as client:
        task_id = submit(client)["id"]
        wait_for(lambda: client.get(f"/v1/async/{task_id}").json()["status"] == "COMPLETED", what="COMPLETED")
        with client.stream("GET", f"/v1/async/{task_id}/events", timeout=30) as response:
            events = list(sse_events(response))
        content = client.get(f"/v1/async/{task_id}").json()["choices"][0]["message"]["content"]
    assert events[0]["id"] == "1"
    assert deltas(events) == content
    assert events[-1]["event"] == "end"


def test_stream_errors_are_json_before_any_event(stack):
    other_key = stack.new_key("tenant-sse-" + uuid.uuid4().hex[:8])
    with stack.client() as client, stack.client(other_key) as other, stack.client("") as anonymous:
        task_id = submit(client, REFERENCE)["id"]

        theirs = other.get(f"/v1/async/{task_id}/events")
        assert theirs.status_code == 404
        assert theirs.json() == {"error": {"code": "not_found", "message": "No task with that id"}}

        assert anonymous.get(f"/v1/async/{task_id}/events").status_code == 401

        bad = client.get(f"/v1/async/{task_id}/events", headers={"Last-Event-ID": "nope"})
        assert bad.status_code == 400
        assert bad.json()["error"]["code"] == "invalid_last_event_id"

        assert client.get("/v1/async/task_123/events").status_code == 404
        # A forged request context is replaced by the gateway's own, never trusted.
        forged = {"x-amzn-request-context": json.dumps({"authorizer": {"tenant": "dev"}})}
        assert other.get(f"/v1/async/{task_id}/events", headers=forged).status_code == 404
