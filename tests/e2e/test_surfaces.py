"""One task engine, four surfaces: the same task reads consistently everywhere its kind fits, and
every status of every surface shows up over HTTP."""

import json
import uuid
from datetime import UTC, datetime

import pytest

from asyncinfer.ops.sse import sse_events
from tests.e2e.conftest import wait_for

pytestmark = pytest.mark.e2e
CHAT = {"messages": [{"role": "user", "content": "One task, four surfaces."}]}


def status_on(client, surface, task_uuid):
    if surface == "async":
        return client.get(f"/v1/async/task_{task_uuid}").json()["status"]
    if surface == "perplexity":
        return client.get(f"/async/chat/completions/{task_uuid}").json()["status"]
    return client.get(f"/v1/messages/async/msg_{uuid.UUID(task_uuid).hex}/status").json()["status"]


def test_a_chat_task_reads_the_same_on_every_chat_surface_through_its_life(stack):
    message_id = f"consistent-{uuid.uuid4().hex[:8]}"
    with stack.client() as client:
        client.post("/v1/messages/async", params={"message_id": message_id}, json={**CHAT, "model": "demo-chat"})
        task_uuid = str(uuid.UUID(_find(client, message_id)))
        seen: list[tuple[str, str, str]] = []

        def triple():
            now = (
                status_on(client, "async", task_uuid),
                status_on(client, "perplexity", task_uuid),
                client.get(f"/v1/messages/async/{message_id}/status").json()["status"],
            )
            seen.append(now)
            return now == ("COMPLETED", "COMPLETED", "completed")

        wait_for(triple, what="completed everywhere")
        native = client.get(f"/v1/async/task_{task_uuid}").json()
        pplx = client.get(f"/async/chat/completions/{task_uuid}").json()
        pgpt = client.get(f"/v1/messages/async/{message_id}/status").json()
    # Each surface names the same life in its own words, and only moves forward (the three reads of one
    # poll are not atomic, so one may be a step ahead of another).
    orders = (
        ["CREATED", "IN_PROGRESS", "COMPLETED"],
        ["CREATED", "IN_PROGRESS", "COMPLETED"],
        ["pending", "processing", "completed"],
    )
    for i, order in enumerate(orders):
        steps = [order.index(poll[i]) for poll in seen]
        assert steps == sorted(steps)
        assert all(abs(order.index(poll[i]) - orders[0].index(poll[0])) <= 1 for poll in seen)
    assert any(poll[0] == "IN_PROGRESS" for poll in seen)
    created = datetime.strptime(native["created_at"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert pplx["created_at"] == int(created.timestamp())
    assert pgpt["created_at"] == native["created_at"]
    assert pplx["response"]["choices"] == native["choices"]
    assert pplx["response"]["usage"]["completion_tokens"] == native["usage"]["completion_tokens"]


def _find(client, message_id):
    """The task id behind a custom message_id: the stream's chunks carry it."""
    with client.stream("GET", f"/v1/messages/async/{message_id}/stream", timeout=30) as response:
        for event in sse_events(response):
            if event["data"] != "[DONE]" and event.get("event") is None:
                return json.loads(event["data"])["id"].removeprefix("chatcmpl-")
    raise AssertionError("no chunk")


def test_a_failed_chat_task_on_every_surface(stack):
    with stack.client() as client:
        native = client.post("/v1/async", json={**CHAT, "model": "demo-fail"}).json()
        task_uuid = native["id"].removeprefix("task_")
        wait_for(lambda: status_on(client, "async", task_uuid) == "FAILED", what="FAILED")
        failed = client.get(f"/v1/async/task_{task_uuid}").json()
        assert failed["error"]["code"] == "model_error" and failed["failed_at"]
        pplx = client.get(f"/async/chat/completions/{task_uuid}").json()
        assert pplx["status"] == "FAILED" and pplx["error_message"] == failed["error"]["message"]
        assert isinstance(pplx["failed_at"], int) and pplx["response"] is None
        mid = f"msg_{uuid.UUID(task_uuid).hex}"
        pgpt = client.get(f"/v1/messages/async/{mid}/status").json()
        assert pgpt["status"] == "failed" and pgpt["error_message"] == failed["error"]["message"]
        with client.stream("GET", f"/v1/messages/async/{mid}/stream", timeout=30) as response:
            events = list(sse_events(response))
        assert events[-2]["event"] == "error" and json.loads(events[-2]["data"])["error"]["code"] == "model_error"
        assert events[-1]["data"] == "[DONE]"
        with client.stream("GET", f"/v1/async/task_{task_uuid}/events", timeout=30) as response:
            end = list(sse_events(response))[-1]
        assert end["event"] == "end" and json.loads(end["data"])["status"] == "FAILED"


def test_generation_statuses_processing_cancelled_and_failed(stack):
    with stack.client() as client:
        slow = client.post("/v1/generation", json={"model": "demo-image", "config": {"prompt": "p", "num_images": 4}})
        generation_id = slow.json()["id"]
        wait_for(
            lambda: client.get(f"/v1/generation/{generation_id}").json()["status"] == "processing", what="processing"
        )
        # The Async API shows chat tasks only: its cancel does not reach a generation (404, as its GET).
        assert client.post(f"/v1/async/{generation_id}/cancel").status_code == 404
        # NetMind's DELETE cancels a running generation.
        assert client.delete(f"/v1/generation/{generation_id}").json() == {"message": "Generation deleted"}
        cancelled = client.get(f"/v1/generation/{generation_id}").json()
        assert cancelled["status"] == "cancelled" and cancelled["result"] == {} and cancelled["is_deleted"] is True

        broken = client.post("/v1/generation", json={"model": "demo-fail-image", "config": {"prompt": "p"}}).json()
        failed = wait_for(
            lambda: (g := client.get(f"/v1/generation/{broken['id']}").json())["status"] == "failed" and g,
            what="failed",
        )
        assert failed["error"]["code"] == "model_error" and failed["result"] == {}
        # A generation is not a chat completion: the chat surfaces do not show it.
        assert client.get(f"/async/chat/completions/{generation_id}").status_code == 404
        assert client.get(f"/v1/messages/async/{generation_id}/status").status_code == 404
