"""The PrivateGPT surface (reference 001) through its handler, against moto."""

import re

import pytest

from asyncinfer.domain.ids import parse_any
from tests.integration.conftest import REFERENCE_BODY

pytestmark = pytest.mark.integration
ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
MESSAGES = [{"role": "user", "content": "Hello there"}]


def call(aws, method, path, **kwargs):
    return aws.api(method, path, function="api_privategpt", **kwargs)


def submit(aws, body=None, message_id=None, **kwargs):
    query = {"message_id": message_id} if message_id else None
    return call(aws, "POST", "/v1/messages/async", body=body or {"messages": MESSAGES}, query=query, **kwargs)


def test_submit_with_generated_id_then_status_until_completed(aws):
    status, started = submit(aws)
    assert status == 200
    assert started["status"] == "pending" and started["message"] == "Request initiated successfully"
    assert re.match(r"^msg_[0-9a-f]{32}$", started["message_id"])
    mid = started["message_id"]
    _, pending = call(aws, "GET", f"/v1/messages/async/{mid}/status")
    assert pending["status"] == "pending" and pending["completed_at"] is None
    assert pending["metadata"]["model"] == "demo-chat"  # the registry's default chat model
    aws.run_worker()
    _, done = call(aws, "GET", f"/v1/messages/async/{mid}/status")
    assert set(done) == {
        "message_id",
        "status",
        "created_at",
        "updated_at",
        "completed_at",
        "error_message",
        "stream_type",
        "metadata",
        "service_tier",  # the class it ran in (see test_scheduling)
    }
    assert done["status"] == "completed" and done["stream_type"] == "sse" and done["error_message"] is None
    assert all(ISO.match(done[k]) for k in ("created_at", "updated_at", "completed_at"))


def test_every_field_of_the_page_is_accepted_and_kept(aws):
    body = {
        "messages": MESSAGES,
        "model": "mirothinker-1-7-deepresearch-mini",
        "stream": True,
        "tools": [{"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}],
        "tool_choice": {"type": "auto"},
        "tool_context": [{"document": "Q3.pdf"}],
        "mcp_servers": [{"url": "https://mcp.example.com"}],
        "response_format": {"type": "text"},
        "system": {"default_prompt": True, "citations": {"enabled": False}},
        "thinking": {"enabled": True},
        "priority": 2,
        "seed": 42,
        "min_p": 0.05,
        "top_p": 0.9,
        "temperature": 0.3,
        "top_k": 40,
        "repetition_penalty": 1.1,
        "presence_penalty": 0.2,
        "frequency_penalty": 0.1,
        "max_tokens": 256,
        "correlation_id": "corr-1",
    }
    status, started = submit(aws, body)
    assert status == 200, started
    task = aws.store.get("acme", parse_any(started["message_id"]))
    assert task.model == "mirothinker-1-7-deepresearch-mini"
    assert task.correlation_id == "corr-1"
    kept = {k: v for k, v in body.items() if k not in ("stream", "mcp_servers")}
    assert {k: task.request[k] for k in kept} == kept
    assert task.request["mcp_servers"][0]["url"] == "https://mcp.example.com"  # normalized, defaults filled
    assert call(aws, "GET", f"/v1/messages/async/{started['message_id']}/status")[1]["metadata"]["correlation_id"]


def test_a_custom_message_id_is_unique_per_tenant(aws):
    status, started = submit(aws, message_id="msg_async_12345")
    assert (status, started["message_id"]) == (200, "msg_async_12345")
    status, error = submit(aws, message_id="msg_async_12345")
    assert status == 409 and error["error"]["code"] == "message_id_conflict"
    assert len(aws.store.list("acme", limit=10, after=None, status=None).tasks) == 1
    assert submit(aws, message_id="msg_async_12345", tenant="other")[0] == 200
    status, seen = call(aws, "GET", "/v1/messages/async/msg_async_12345/status")
    assert status == 200 and seen["message_id"] == "msg_async_12345"
    assert call(aws, "GET", "/v1/messages/async/msg_async_99999/status")[0] == 404


@pytest.mark.parametrize("bad", ["has space", "x" * 129, "msg_" + "a" * 32, "ünï"])
def test_a_malformed_message_id_is_400(aws, bad):
    status, error = submit(aws, message_id=bad)
    assert status == 400 and error["error"]["code"] == "invalid_message_id"


@pytest.mark.parametrize(
    "body, field",
    [
        ({"messages": []}, "messages"),
        ({"messages": MESSAGES, "temperature": "hot"}, "temperature"),
        ({"messages": MESSAGES, "seed": 1.5}, "seed"),
        ({"messages": MESSAGES, "system": "be nice"}, "system"),
        ({"messages": MESSAGES, "model": "nope"}, "nope"),
    ],
)
def test_bad_bodies_are_400_and_store_nothing(aws, body, field):
    status, error = submit(aws, body)
    assert status == 400 and field in error["error"]["message"]
    assert aws.queue_depth() == 0


def test_cancel_and_delete_by_message_id(aws):
    assert submit(aws, message_id="to-cancel")[0] == 200
    status, cancelled = call(aws, "POST", "/v1/messages/async/to-cancel/cancel")
    assert status == 200 and cancelled["status"] == "cancelled"
    status, deleted = call(aws, "DELETE", "/v1/messages/async/to-cancel")
    assert (status, deleted) == (200, {"message_id": "to-cancel", "deleted": True})
    assert call(aws, "GET", "/v1/messages/async/to-cancel/status")[0] == 404
    # The id stays taken: a deleted message's id is not silently reused.
    assert submit(aws, message_id="to-cancel")[0] == 409


def test_the_same_task_reads_on_every_chat_surface(aws):
    _, native = aws.api("POST", "/v1/async", body=REFERENCE_BODY)
    status, seen = call(aws, "GET", f"/v1/messages/async/{native['id']}/status")
    assert status == 200 and parse_any(seen["message_id"]) == parse_any(native["id"])
    _, started = submit(aws)
    assert aws.api("GET", f"/v1/async/{started['message_id']}")[0] == 200
