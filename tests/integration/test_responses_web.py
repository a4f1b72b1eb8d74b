"""The Responses function's ASGI app as Lambda Web Adapter calls it on AWS (the request context in the
x-amzn-request-context header, no dev server): its JSON answers through its own resolver, its event streams from
the task's event log, each tenant seeing only its own responses."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest

from asyncinfer.domain.model import TaskStatus, Usage
from asyncinfer.domain.results import chat_completion
from asyncinfer.handlers import api_responses
from tests.integration.test_store import make_task

pytestmark = pytest.mark.integration


def call(method: str, path: str, tenant: str | None = "acme", **kwargs) -> httpx.Response:
    headers = {}
    if tenant is not None:
        headers["x-amzn-request-context"] = json.dumps({"authorizer": {"tenant": tenant, "principalId": tenant}})

    async def send() -> httpx.Response:
        transport = httpx.ASGITransport(app=api_responses.web)
        async with httpx.AsyncClient(transport=transport, base_url="http://lambda") as client:
            return await client.request(method, path, headers=headers, **kwargs)

    return asyncio.run(send())


def test_json_answers_go_through_the_resolver_and_stay_with_their_tenant(aws):
    created = call("POST", "/v1/responses", json={"model": "demo-chat", "input": "Hi", "background": True})
    assert created.status_code == 200, created.text
    response_id = created.json()["id"]
    assert created.json()["status"] == "queued" and response_id.startswith("resp_")
    read = call("GET", f"/v1/responses/{response_id}")
    assert read.status_code == 200 and read.headers["openai-poll-after-ms"]
    assert call("GET", f"/v1/responses/{response_id}/input_items").json()["data"][0]["role"] == "user"
    for method, path in [
        ("GET", f"/v1/responses/{response_id}"),
        ("GET", f"/v1/responses/{response_id}?stream=true"),
        ("POST", f"/v1/responses/{response_id}/cancel"),
        ("DELETE", f"/v1/responses/{response_id}"),
    ]:
        assert call(method, path, tenant="other").status_code == 404, (method, path)
    assert call("GET", f"/v1/responses/{response_id}", tenant=None).status_code == 401
    assert call("GET", f"/v1/responses/{response_id}?stream=true", tenant=None).status_code == 401
    refused = call("POST", "/v1/responses", json={"input": "Hi"})
    assert refused.status_code == 400 and "background" in refused.json()["error"]["message"]
    assert call("POST", f"/v1/responses/{response_id}/cancel").json()["status"] == "cancelled"


def test_a_stream_resumes_from_the_event_log_after_starting_after(aws):
    usage = Usage(prompt_tokens=1, completion_tokens=2, total_tokens=3)
    task = make_task(status=TaskStatus.COMPLETED, started_at=2, completed_at=3, usage=usage)
    task.result = chat_completion(task, "Hello there", "stop", usage, created_ms=3)
    aws.store.create(task)
    aws.store.append_events(
        "acme", task.id, 1, [{"type": "delta", "text": "Hello"}, {"type": "delta", "text": " there"}]
    )
    whole = call("GET", f"/v1/responses/resp_{task.id}?stream=true")
    assert whole.status_code == 200 and whole.headers["content-type"].startswith("text/event-stream")
    events = [json.loads(line[6:]) for line in whole.text.splitlines() if line.startswith("data: ")]
    assert not whole.text.startswith("retry:")
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    assert (
        events[-1]["type"] == "response.completed"
        and events[-1]["response"]["output"][0]["content"][0]["text"] == "Hello there"
    )
    resumed = call("GET", f"/v1/responses/resp_{task.id}?stream=true&starting_after=4")
    later = [json.loads(line[6:]) for line in resumed.text.splitlines() if line.startswith("data: ")]
    assert later == events[5:]
    assert call("GET", f"/v1/responses/resp_{task.id}?stream=true&starting_after=x").status_code == 400
