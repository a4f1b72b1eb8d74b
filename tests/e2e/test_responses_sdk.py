"""OpenAI's own Python SDK, unchanged but for its base URL and key, against the local stack: the Responses API in
background mode (create and poll, stream from creation, resume after a sequence number, cancel, an MCP tool), and
another tenant's key finding none of it."""

from __future__ import annotations

import json
import uuid

import httpx
import openai
import pytest

from tests.e2e.conftest import wait_for
from tests.support.mcp_server import RunningMcpServer

pytestmark = pytest.mark.e2e


@pytest.fixture
def client(stack) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{stack.url}/v1", api_key=stack.key, max_retries=0)


def finished(client: openai.OpenAI, response_id: str, status: str = "completed", timeout: float = 60):
    def ended():
        read = client.responses.retrieve(response_id)
        return read.status not in ("queued", "in_progress") and read

    read = wait_for(ended, timeout=timeout, what=f"response {response_id} to end")
    assert read.status == status, read
    return read


def test_create_in_the_background_and_poll_until_completed_reads_the_tasks_answer(client, stack):
    created = client.responses.create(
        model="demo-chat",
        input="Name three queues.",
        background=True,
        metadata={"run": "e2e"},
        instructions="Be brief.",
    )
    assert created.id.startswith("resp_") and created.object == "response" and created.background is True
    assert created.status in ("queued", "in_progress") and created.metadata == {"run": "e2e"}
    done = finished(client, created.id)
    with stack.client() as http:
        task = http.get(f"/v1/async/{created.id}").json()  # the same task, read on the Async API
    assert task["status"] == "COMPLETED"
    assert done.output_text == task["choices"][0]["message"]["content"] and done.output_text
    assert done.instructions == "Be brief." and done.metadata == {"run": "e2e"}
    usage = task["usage"]
    assert (done.usage.input_tokens, done.usage.output_tokens) == (usage["prompt_tokens"], usage["completion_tokens"])
    assert done.usage.total_tokens == usage["total_tokens"] > 0
    items = client.responses.input_items.list(created.id, order="asc")
    assert [(i.role, i.content[0].text) for i in items.data] == [("user", "Name three queues.")]


def test_a_streamed_create_sends_every_event_from_creation_to_completed(client):
    events = list(client.responses.create(model="demo-chat", input="Stream me.", background=True, stream=True))
    kinds = [e.type for e in events]
    assert kinds[:2] == ["response.created", "response.in_progress"] and kinds[-1] == "response.completed"
    assert [e.sequence_number for e in events] == list(range(len(events)))
    assert kinds.index("response.output_item.added") < kinds.index("response.output_text.delta")
    text = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert text and events[-1].response.output_text == text
    done = [e for e in events if e.type == "response.output_text.done"]
    assert [e.text for e in done] == [text]
    assert client.responses.retrieve(events[0].response.id).output_text == text


def test_a_resumed_stream_yields_exactly_the_events_after_starting_after(client):
    events = list(client.responses.create(model="demo-chat", input="Resume me.", background=True, stream=True))
    response_id = events[0].response.id
    k = 3
    resumed = list(client.responses.retrieve(response_id, stream=True, starting_after=k))
    assert [e.sequence_number for e in resumed] == list(range(k + 1, len(events)))
    assert [e.type for e in resumed] == [e.type for e in events[k + 1 :]]
    again = list(client.responses.retrieve(response_id, stream=True))  # from the start, the same stream
    assert [(e.sequence_number, e.type) for e in again] == [(e.sequence_number, e.type) for e in events]


def test_cancel_of_a_running_response_ends_it_cancelled(client):
    created = client.responses.create(model="demo-deep-research", input="Research queues.", background=True)
    wait_for(lambda: client.responses.retrieve(created.id).status == "in_progress", timeout=30, what="in_progress")
    cancelled = client.responses.cancel(created.id)
    assert cancelled.status == "cancelled" and cancelled.id == created.id
    assert finished(client, created.id, "cancelled").output == []


def test_an_mcp_tool_runs_and_its_result_is_an_output_item(client):
    with RunningMcpServer() as tools:
        mcp = {
            "type": "mcp",
            "server_label": "demo",
            "server_url": tools.url,
            "allowed_tools": ["add"],
            "require_approval": "never",
        }
        created = client.responses.create(model="demo-chat", input="What is 20 plus 22?", background=True, tools=[mcp])
        done = finished(client, created.id)
    calls = [item for item in done.output if item.type == "mcp_call"]
    assert [(c.server_label, c.name, json.loads(c.arguments), c.output) for c in calls] == [
        ("demo", "add", {"a": 20, "b": 22}, "42")
    ]
    assert done.output[-1].type == "message" and done.output_text.startswith("Using the tools: [42]")
    assert done.tools[0].server_label == "demo"


MCP = {"type": "mcp", "server_label": "a", "server_url": "https://example.com/mcp"}


@pytest.mark.parametrize(
    ("extra", "named"),
    [
        ({"background": False}, "background"),
        ({"previous_response_id": "resp_x"}, "previous_response_id"),
        ({"tools": [{"type": "web_search"}]}, "tools[0].type"),
        ({"tools": [{**MCP, "require_approval": "always"}]}, "tools[0].require_approval"),
        ({"input": [{"type": "function_call_output", "call_id": "c", "output": "x"}]}, "input[0].type"),
    ],
)
def test_what_cannot_be_honoured_is_a_400_naming_it(client, extra, named):
    body = {"model": "demo-chat", "input": "hi", "background": True, **extra}
    with pytest.raises(openai.BadRequestError) as refused:
        client.responses.create(**body)
    assert named in refused.value.message


def test_another_tenants_key_gets_404_on_every_route_with_the_id(client, stack):
    created = client.responses.create(model="demo-chat", input="Mine.", background=True)
    other = openai.OpenAI(base_url=f"{stack.url}/v1", api_key=stack.new_key(f"other{uuid.uuid4().hex[:8]}"))
    for call in (
        lambda: other.responses.retrieve(created.id),
        lambda: list(other.responses.retrieve(created.id, stream=True)),
        lambda: other.responses.cancel(created.id),
        lambda: other.responses.delete(created.id),
        lambda: other.responses.input_items.list(created.id),
    ):
        with pytest.raises(openai.NotFoundError):
            call()
    assert finished(client, created.id).output_text  # untouched by the other tenant's calls
    client.responses.delete(created.id)
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(created.id)
    with httpx.Client(base_url=stack.url) as anonymous:
        assert anonymous.get(f"/v1/responses/{created.id}").status_code == 401
