"""Anthropic's message params onto the chat body, and the results file's lines as Anthropic's results lines."""

from __future__ import annotations

import pytest

from asyncinfer.domain import anthropic_messages as am
from asyncinfer.domain.errors import InvalidRequest
from asyncinfer.domain.records import Batch, BatchEndpoint, BatchStatus
from asyncinfer.surfaces import anthropic_batches

PARAMS = {"model": "demo-chat", "max_tokens": 64, "messages": [{"role": "user", "content": "Hi"}]}


def test_params_map_onto_the_chat_body():
    params = {
        **PARAMS,
        "system": [{"type": "text", "text": "Be brief."}, {"type": "text", "text": "Be kind."}],
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "Hello"}]},
            {"role": "assistant", "content": "Hi."},
            {"role": "user", "content": "And?"},
        ],
        "stop_sequences": ["END"],
        "temperature": 0.2,
        "top_p": 0.9,
        "top_k": 5,
        "metadata": {"user_id": "u-1"},
        "stream": False,
    }
    assert am.to_chat(params) == {
        "model": "demo-chat",
        "max_tokens": 64,
        "messages": [
            {
                "role": "system",
                "content": [{"type": "text", "text": "Be brief."}, {"type": "text", "text": "Be kind."}],
            },
            {"role": "user", "content": "Hello"},
            {"role": "assistant", "content": "Hi."},
            {"role": "user", "content": "And?"},
        ],
        "stop": ["END"],
        "temperature": 0.2,
        "top_p": 0.9,
        "top_k": 5,
        "user": "u-1",
    }
    assert am.to_chat({**PARAMS, "system": "Be brief."})["messages"][0] == {"role": "system", "content": "Be brief."}


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"tools": [{"name": "t"}]}, "params.tools"),
        ({"tool_choice": {"type": "auto"}}, "params.tool_choice"),
        ({"thinking": {"type": "enabled", "budget_tokens": 1024}}, "params.thinking"),
        ({"stream": True}, "params.stream"),
        ({"metadata": {"user_id": "u", "other": 1}}, "params.metadata"),
        ({"messages": [{"role": "user", "content": [{"type": "image", "source": {}}]}]}, "'image'"),
        ({"messages": [{"role": "user", "content": [{"type": "tool_result", "tool_use_id": "x"}]}]}, "'tool_result'"),
        (
            {"messages": [{"role": "user", "content": [{"type": "text", "text": "x", "cache_control": {}}]}]},
            "params.messages.0.content.0.cache_control",
        ),
    ],
)
def test_what_cannot_be_honoured_is_refused_by_name(change, named):
    with pytest.raises(am.UnsupportedParam) as refused:
        am.to_chat({**PARAMS, **change})
    assert named in refused.value.message and refused.value.code == "unsupported_parameter"


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({"model": "demo-chat", "messages": PARAMS["messages"]}, "params.max_tokens"),
        ({**PARAMS, "max_tokens": 0}, "params.max_tokens"),
        ({**PARAMS, "messages": []}, "params.messages"),
        ({**PARAMS, "messages": [{"role": "system", "content": "x"}]}, "params.messages.0.role"),
        ({**PARAMS, "stop_sequences": "END"}, "params.stop_sequences"),
    ],
)
def test_invalid_params_are_invalid_requests_not_unsupported_ones(params, named):
    with pytest.raises(InvalidRequest) as invalid:
        am.to_chat(params)
    assert named in invalid.value.message and not isinstance(invalid.value, am.UnsupportedParam)


COMPLETION = {
    "object": "chat.completion",
    "model": "demo-chat",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "Paris."}, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 7, "completion_tokens": 2, "total_tokens": 9},
}
TASK = "task_0190a5d2-7b3c-7d4e-8f00-1a2b3c4d5e6f"


def test_a_completed_item_is_a_succeeded_message():
    line = {"custom_id": "a", "id": TASK, "status": "COMPLETED", "response": COMPLETION, "error": None}
    assert am.result_line(line) == {
        "custom_id": "a",
        "result": {
            "type": "succeeded",
            "message": {
                "id": "msg_0190a5d27b3c7d4e8f001a2b3c4d5e6f",
                "type": "message",
                "role": "assistant",
                "model": "demo-chat",
                "content": [{"type": "text", "text": "Paris."}],
                "stop_reason": "end_turn",
                "stop_sequence": None,
                "usage": {"input_tokens": 7, "output_tokens": 2},
            },
        },
    }
    truncated = {**COMPLETION, "choices": [{**COMPLETION["choices"][0], "finish_reason": "length"}]}
    assert am.message(TASK, truncated)["stop_reason"] == "max_tokens"


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        ("unknown_model", "invalid_request_error"),
        ("model_error", "api_error"),
        ("provider_throttled", "rate_limit_error"),
        ("deadline_exceeded", "timeout_error"),
        ("budget_exceeded", "billing_error"),
        (None, "api_error"),
    ],
)
def test_a_failed_item_is_errored_with_anthropics_error_type(code, kind):
    line = {"custom_id": "b", "id": TASK, "status": "FAILED", "error": {"code": code, "message": "no"}}
    assert am.result_line(line) == {
        "custom_id": "b",
        "result": {"type": "errored", "error": {"type": "error", "error": {"type": kind, "message": "no"}}},
    }


def test_a_cancelled_item_is_canceled():
    line = {"custom_id": "c", "id": TASK, "status": "CANCELLED", "error": {"code": "cancelled", "message": "x"}}
    assert am.result_line(line) == {"custom_id": "c", "result": {"type": "canceled"}}


def test_the_anthropic_sdk_parses_the_lines_and_the_batch():
    from anthropic.types.messages import MessageBatch, MessageBatchIndividualResponse

    for line in (
        {"custom_id": "a", "id": TASK, "status": "COMPLETED", "response": COMPLETION},
        {"custom_id": "b", "id": TASK, "status": "FAILED", "error": {"code": "model_error", "message": "no"}},
        {"custom_id": "c", "id": TASK, "status": "CANCELLED"},
    ):
        parsed = MessageBatchIndividualResponse.model_validate(am.result_line(line))
        assert parsed.custom_id == line["custom_id"]
    batch = Batch(
        id="0190a5d27b3c7d4e8f001a2b3c4d5e6f",
        tenant="t",
        status=BatchStatus.CANCELLED,
        endpoint=BatchEndpoint.MESSAGES,
        total=4,
        completed=1,
        failed=1,
        cancelled=2,
        created_at=1_700_000_000_000,
        updated_at=1_700_000_100_000,
        ended_at=1_700_000_100_000,
        cancelled_at=1_700_000_050_123,
        input_key="k",
        expires_at=1_702_592_000,
    )
    rendered = anthropic_batches.render(batch, "http://127.0.0.1/results")
    parsed = MessageBatch.model_validate(rendered)
    assert parsed.id == "msgbatch_0190a5d27b3c7d4e8f001a2b3c4d5e6f" and parsed.processing_status == "ended"
    assert rendered["cancel_initiated_at"] == "2023-11-14T22:14:10.123Z"
    counts = parsed.request_counts
    assert (counts.processing, counts.succeeded, counts.errored, counts.canceled) == (0, 1, 1, 2)
    running = anthropic_batches.render(batch.model_copy(update={"status": BatchStatus.CANCELLING}))
    assert running["processing_status"] == "canceling" and running["ended_at"] is None
    assert anthropic_batches.internal_id(parsed.id) == batch.id


def test_a_message_batch_id_and_a_batch_id_each_say_where_they_are_read():
    from asyncinfer.surfaces.contract import BATCHES, MESSAGE_BATCHES, where_read

    public = "msgbatch_0190a5d27b3c7d4e8f001a2b3c4d5e6f"
    assert where_read(BATCHES, public) == (
        "This looks like a message batch id; read it at GET /v1/messages/batches/{id}"
    )
    assert where_read(MESSAGE_BATCHES, "batch_0190a5d2-7b3c-7d4e-8f00-1a2b3c4d5e6f") == (
        "This looks like a batch id; read it at GET /v1/batches/{id}"
    )
    assert where_read(MESSAGE_BATCHES, public) is None
