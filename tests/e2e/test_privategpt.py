"""The PrivateGPT surface over HTTP against the local stack, its /stream a real SSE stream."""

import json
import uuid

import pytest

from asyncinfer.ops.sse import sse_events
from tests.e2e.conftest import wait_for

pytestmark = pytest.mark.e2e

BODY = {"messages": [{"role": "user", "content": "Tell me about resumable streams."}], "temperature": 0.2}


def chunk_text(events):
    text = ""
    for event in events:
        if event["data"] == "[DONE]" or event.get("event") in {"error", "restart"}:
            continue
        text += json.loads(event["data"])["choices"][0]["delta"].get("content", "")
    return text


def test_reference_submit_then_stream_resumes_exactly_after_last_event_id(stack):
    message_id = f"msg_async_{uuid.uuid4().hex[:8]}"
    with stack.client() as client:
        # The reference request: POST /v1/messages/async?message_id=…
        started = client.post("/v1/messages/async", params={"message_id": message_id}, json=BODY)
        assert started.status_code == 200, started.text
        assert started.json() == {
            "message_id": message_id,
            "status": "pending",
            "message": "Request initiated successfully",
        }

        first = []
        with client.stream("GET", f"/v1/messages/async/{message_id}/stream", timeout=30) as response:
            assert response.headers["content-type"].startswith("text/event-stream")
            for event in sse_events(response):
                first.append(event)
                if len(first) == 2:
                    break
        chunk = json.loads(first[0]["data"])
        assert chunk["object"] == "chat.completion.chunk"
        assert chunk["choices"][0]["delta"]["role"] == "assistant"

        headers = {"Last-Event-ID": first[-1]["id"]}
        with client.stream("GET", f"/v1/messages/async/{message_id}/stream", headers=headers, timeout=30) as r:
            rest = list(sse_events(r))
        assert rest[-1]["data"] == "[DONE]"
        final = json.loads(rest[-2]["data"])
        assert final["choices"][0]["finish_reason"] == "stop"
        assert final["usage"]["completion_tokens"] > 0

        status = client.get(f"/v1/messages/async/{message_id}/status").json()
        assert status["status"] == "completed"
        task_id = "msg_" + uuid.UUID(final["id"].removeprefix("chatcmpl-")).hex
        content = client.get(f"/v1/async/{task_id}").json()["choices"][0]["message"]["content"]
    ids = [int(e["id"]) for e in first + rest if "id" in e]
    assert ids == list(range(1, len(ids) + 1))
    assert chunk_text(first + rest) == content
    # The closing chunk (finish_reason and usage) is numbered too: a client that resumes after it gets [DONE]
    # alone, not the closing chunk a second time.
    assert rest[-2]["id"] == str(ids[-1])
    with stack.client() as client:
        headers = {"Last-Event-ID": rest[-2]["id"]}
        with client.stream("GET", f"/v1/messages/async/{message_id}/stream", headers=headers, timeout=30) as r:
            after_close = list(sse_events(r))
    assert [e["data"] for e in after_close] == ["[DONE]"]


def test_status_cancel_and_delete_over_http(stack):
    with stack.client() as client:
        message_id = client.post("/v1/messages/async", json=BODY).json()["message_id"]
        wait_for(
            lambda: client.get(f"/v1/messages/async/{message_id}/status").json()["status"] == "processing",
            what="processing",
        )
        cancelled = client.post(f"/v1/messages/async/{message_id}/cancel")
        assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
        with client.stream("GET", f"/v1/messages/async/{message_id}/stream", timeout=30) as response:
            events = list(sse_events(response))
        assert json.loads(events[-2]["data"])["choices"][0]["finish_reason"] == "cancelled"
        assert events[-1]["data"] == "[DONE]"
        assert client.delete(f"/v1/messages/async/{message_id}").json() == {"message_id": message_id, "deleted": True}
        for response in (
            client.get(f"/v1/messages/async/{message_id}/status"),
            client.get(f"/v1/messages/async/{message_id}/stream"),
            client.delete(f"/v1/messages/async/{message_id}"),
        ):
            assert response.status_code == 404
            assert response.json()["error"]["code"] == "not_found"
