"""OpenAI's Responses API on the chat task: a Responses request mapped onto the chat body, a task rendered as a
Response object and its input items, and the event log rendered as Responses streaming events (numbered so that a
resumed stream is the same stream with its first events left out)."""

from __future__ import annotations

import json

import pytest

from asyncinfer.domain import ids, responses
from asyncinfer.domain.errors import InvalidRequest, TaskNotFound
from asyncinfer.domain.model import Task, TaskError, TaskKind, TaskStatus, Usage, new_task_id
from asyncinfer.domain.requests import parse_chat_request
from asyncinfer.domain.results import chat_completion
from asyncinfer.surfaces.contract import where_read
from asyncinfer.surfaces.responses_events import ResponseFrames

MCP = {
    "type": "mcp",
    "server_label": "demo",
    "server_url": "https://tools.example.com/mcp",
    "headers": {"X-Key": "secret"},
    "allowed_tools": ["add"],
    "require_approval": "never",
}


def request(**extra) -> dict:
    return {"model": "demo-chat", "input": "Hello", "background": True, **extra}


def task(status=TaskStatus.CREATED, **extra) -> Task:
    fields = {"id": new_task_id(), "tenant": "acme", "kind": TaskKind.CHAT, "model": "demo-chat"}
    return Task(**fields, status=status, created_at=1_700_000_000_000, updated_at=1_700_000_000_000, **extra)


def test_a_full_request_maps_onto_the_chat_body_the_engine_validates():
    body = responses.chat_body_of(
        request(
            instructions="Be brief.",
            input=[
                {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Hi"}]},
                {"role": "assistant", "content": [{"type": "output_text", "text": "Hello!"}]},
                {"role": "user", "content": [{"type": "input_image", "image_url": "https://x.example/a.png"}]},
            ],
            max_output_tokens=50,
            temperature=0.2,
            top_p=0.9,
            metadata={"run": "1"},
            tools=[MCP],
            service_tier="flex",
            store=True,
            stream=True,
            webhook={"url": "https://hooks.example.com/h"},
        ),
        "default-model",
    )
    assert body["messages"] == [
        {"role": "system", "content": "Be brief.", "name": "instructions"},
        {"role": "user", "content": [{"type": "text", "text": "Hi"}]},
        {"role": "assistant", "content": [{"type": "text", "text": "Hello!"}]},
        {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "https://x.example/a.png"}}]},
    ]
    assert body["mcp_servers"] == [
        {"url": MCP["server_url"], "name": "demo", "headers": {"X-Key": "secret"}, "allowed_tools": ["add"]}
    ]
    assert (body["max_tokens"], body["temperature"], body["top_p"]) == (50, 0.2, 0.9)
    assert (body["metadata"], body["service_tier"], body["webhook"]) == (
        {"run": "1"},
        "flex",
        {"url": "https://hooks.example.com/h"},
    )
    assert "stream" not in body and "background" not in body and "store" not in body
    parse_chat_request(body)  # what the engine then takes as any chat body


def test_a_string_input_is_one_user_message_with_the_default_model():
    body = responses.chat_body_of({"input": "Hi", "background": True}, "default-model")
    assert body == {"model": "default-model", "messages": [{"role": "user", "content": "Hi"}]}


@pytest.mark.parametrize(
    ("extra", "named"),
    [
        ({"background": False}, "background"),
        ({"background": None}, "background"),
        ({"previous_response_id": "resp_1"}, "previous_response_id"),
        ({"reasoning": {"effort": "low"}}, "reasoning"),
        ({"store": False}, "store"),
        ({"tools": [{"type": "function", "name": "f"}]}, "tools[0].type"),
        ({"tools": [{**MCP, "require_approval": "always"}]}, "tools[0].require_approval"),
        ({"tools": [{**MCP, "server_label": "bad label"}]}, "server_label"),
        ({"tool_choice": "required"}, "tool_choice"),
        ({"text": {"format": {"type": "json_object"}}}, "text"),
        ({"input": [{"type": "item_reference", "id": "x"}]}, "input[0].type"),
        (
            {"input": [{"role": "user", "content": [{"type": "input_file", "file_id": "f"}]}]},
            "input[0].content[0].type",
        ),
        ({"input": []}, "input"),
        ({"max_output_tokens": 0}, "max_output_tokens"),
        ({"frobnicate": 1}, "frobnicate"),
    ],
)
def test_what_cannot_be_honoured_is_refused_naming_it(extra, named):
    with pytest.raises(InvalidRequest) as refused:
        responses.chat_body_of({**request(), **extra}, "m")
    assert named in refused.value.message


def test_response_ids_read_the_task_and_are_read_by_every_chat_surface():
    task_id = new_task_id()
    public = responses.response_id(task_id)
    assert public == f"resp_{task_id}" and ids.parse_any(public) == task_id and ids.spells_a_task_id(public)
    with pytest.raises(TaskNotFound):
        ids.parse_any("resp_nothex")
    assert where_read("Async API", public) is None  # a chat task id: read there too
    assert where_read("Batches", public) == "This looks like an OpenAI response id; read it at GET /v1/responses/{id}"


def completed(finish_reason="stop", reasoning=None) -> tuple[Task, dict, dict]:
    t = task(
        TaskStatus.COMPLETED,
        completed_at=1_700_000_005_000,
        usage=Usage(prompt_tokens=3, completion_tokens=4, total_tokens=7),
    )
    body = responses.chat_body_of(request(instructions="Brief.", metadata={"k": "v"}, tools=[MCP]), "m")
    result = chat_completion(t, "The answer", finish_reason, t.usage, created_ms=t.completed_at)
    if reasoning:
        result["choices"][0]["message"]["reasoning_steps"] = reasoning
    return t, body, result


def test_a_completed_task_renders_as_a_completed_response_with_its_usage():
    t, body, result = completed()
    out = responses.response_object(t, body, result)
    assert (out["id"], out["object"], out["status"], out["background"]) == (
        f"resp_{t.id}",
        "response",
        "completed",
        True,
    )
    assert (out["created_at"], out["completed_at"]) == (1_700_000_000, 1_700_000_005)
    assert out["output"] == [
        {
            "id": f"msg_{t.id}_0",
            "type": "message",
            "role": "assistant",
            "status": "completed",
            "content": [{"type": "output_text", "text": "The answer", "annotations": [], "logprobs": []}],
        }
    ]
    assert (
        out["usage"]["input_tokens"] == 3 and out["usage"]["output_tokens"] == 4 and out["usage"]["total_tokens"] == 7
    )
    assert (out["instructions"], out["metadata"]) == ("Brief.", {"k": "v"})
    assert out["tools"] == [{**{k: v for k, v in MCP.items() if k != "server_description"}, "headers": None}]


def test_the_tool_steps_are_mcp_call_items_before_the_answer():
    step = {
        "server": "demo",
        "tool": "add",
        "arguments": '{"a": 1}',
        "result": "2",
        "is_error": False,
        "truncated": False,
    }
    failed = {**step, "result": "boom", "is_error": True}
    t, body, result = completed(
        reasoning=[
            {"thought": "Adding.", "type": "mcp_tool_call", "mcp_tool_call": step},
            {"thought": "", "type": "mcp_tool_call", "mcp_tool_call": failed},
        ]
    )
    output = responses.response_object(t, body, result)["output"]
    assert [(o["type"], o["id"]) for o in output] == [
        ("message", f"msg_{t.id}_0"),
        ("mcp_call", f"mcp_{t.id}_1"),
        ("mcp_call", f"mcp_{t.id}_2"),
        ("message", f"msg_{t.id}_3"),
    ]
    assert (output[1]["server_label"], output[1]["name"], output[1]["output"], output[1]["status"]) == (
        "demo",
        "add",
        "2",
        "completed",
    )
    assert output[2]["status"] == "failed" and output[2]["error"] == {
        "type": "mcp_tool_execution_error",
        "content": "boom",
    }


@pytest.mark.parametrize(
    ("status", "shown"),
    [(TaskStatus.CREATED, "queued"), (TaskStatus.IN_PROGRESS, "in_progress"), (TaskStatus.CANCELLED, "cancelled")],
)
def test_a_task_not_completed_has_no_output(status, shown):
    out = responses.response_object(task(status), None, None)
    assert (out["status"], out["output"], out["error"]) == (shown, [], None)


def test_a_failed_task_carries_its_error_and_a_cut_answer_is_incomplete():
    failed = responses.response_object(
        task(TaskStatus.FAILED, error=TaskError(code="model_error", message="no")), None, None
    )
    assert failed["status"] == "failed" and failed["error"] == {"code": "model_error", "message": "no"}
    t, body, result = completed(finish_reason="length")
    out = responses.response_object(t, body, result)
    assert out["status"] == "incomplete" and out["incomplete_details"] == {"reason": "max_output_tokens"}


def test_input_items_are_the_input_without_the_instructions():
    body = responses.chat_body_of(
        request(instructions="Brief.", input=[{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]),
        "m",
    )
    t = task()
    items = responses.input_items(t, body)
    assert [(i["id"], i["role"], i["content"]) for i in items] == [
        (f"msg_{t.id}_in0", "user", [{"type": "input_text", "text": "a"}]),
        (f"msg_{t.id}_in1", "assistant", [{"type": "output_text", "text": "b"}]),
    ]


# ---- the event stream ---------------------------------------------------------------------------------------------

LOG = [
    {"type": "tool_call", "id": "c1", "name": "demo__add", "arguments": '{"a":1}'},
    {"type": "tool_result", "id": "c1", "name": "demo__add", "is_error": False, "content": "2"},
    {"type": "progress", "step": 1},
    {"type": "delta", "text": "The"},
    {"type": "delta", "text": " answer"},
]


def frames_of(ended: Task, after: int = -1, statuses=()) -> list[dict]:
    body = responses.chat_body_of(request(), "m")
    result = chat_completion(ended, "The answer", "stop", Usage(), created_ms=1)
    opened = ended.model_copy(update={"status": TaskStatus.CREATED, "started_at": None})
    frames = ResponseFrames(opened, body, lambda t: result, after)
    raw = frames.start()
    for status in statuses:
        raw += frames.status(status, None) or b""
    for seq, event in enumerate(LOG, start=1):
        raw += frames.event(seq, event) or b""
    raw += frames.end(ended)
    out = []
    for block in raw.decode().strip().split("\n\n"):
        if block:
            event_line, data_line = block.split("\n")
            data = json.loads(data_line.removeprefix("data: "))
            assert event_line == f"event: {data['type']}"
            out.append(data)
    return out


def test_the_log_streams_as_responses_events_numbered_from_zero():
    ended = task(TaskStatus.COMPLETED, started_at=2, completed_at=3)
    events = frames_of(ended)
    assert [e["type"] for e in events] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.mcp_call.in_progress",
        "response.mcp_call.completed",
        "response.output_item.done",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    assert events[0]["response"]["status"] == "queued" and events[1]["response"]["status"] == "in_progress"
    assert events[5]["item"]["output"] == "2" and events[5]["item"]["id"] == f"mcp_{ended.id}_0"
    assert events[10]["text"] == "The answer" and events[12]["item"]["id"] == f"msg_{ended.id}_1"
    assert events[-1]["response"]["status"] == "completed"


def test_a_resumed_stream_is_the_same_stream_after_starting_after():
    ended = task(TaskStatus.COMPLETED, started_at=2, completed_at=3)
    whole = frames_of(ended)
    for k in (0, 1, 4, len(whole) - 2):
        assert frames_of(ended, after=k) == whole[k + 1 :]
    # Whether in_progress came from a status frame or before the first event, its number is the same.
    running = ended.model_copy(update={"status": TaskStatus.IN_PROGRESS, "completed_at": None})
    told = frames_of(ended, statuses=[running])
    assert [(e["sequence_number"], e["type"]) for e in told] == [(e["sequence_number"], e["type"]) for e in whole]


def test_a_cancelled_stream_ends_without_a_terminal_event_and_a_failed_one_with_response_failed():
    cancelled = frames_of(task(TaskStatus.CANCELLED, started_at=2, cancelled_at=3))
    assert cancelled[-1]["type"] == "response.output_item.done" and cancelled[-1]["item"]["status"] == "incomplete"
    failed = frames_of(task(TaskStatus.FAILED, started_at=2, failed_at=3, error=TaskError(code="x", message="y")))
    assert failed[-1]["type"] == "response.failed" and failed[-1]["response"]["error"] == {"code": "x", "message": "y"}


def test_a_batch_line_takes_neither_background_nor_stream_and_renders_as_not_background():
    assert responses.chat_body_of({"model": "m", "input": "Hi"}, "d", background=False)["messages"] == [
        {"role": "user", "content": "Hi"}
    ]
    for name in ("background", "stream"):
        with pytest.raises(InvalidRequest) as refused:
            responses.chat_body_of({"input": "Hi", name: True}, "d", background=False)
        assert refused.value.message.startswith(name)
    t, body, result = completed()
    assert responses.response_object(t, body, result, background=False)["background"] is False
