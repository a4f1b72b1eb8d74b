"""One trace per task, from the submit to the worker's end: the real API and worker handlers, a scripted
OpenAI-compatible model that calls tools, a real MCP server on loopback, and the spans read in-process."""

from __future__ import annotations

import json

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from asyncinfer.domain.ids import parse_any
from asyncinfer.domain.model import TaskStatus
from asyncinfer.handlers import shared, worker
from asyncinfer.observability import tracing
from asyncinfer.observability.tracing import GEN_AI
from tests.support.models_file import serve_models

pytestmark = pytest.mark.integration

PROMPT = "Quokka-7731: add 2 and 3, and the weather?"
ANSWER = "Tool results: 5 | Paris: 18 C and sunny"
# What no span may hold: the prompt, the answer, a tool's arguments and its results.
SECRETS = (PROMPT, "Quokka", ANSWER, "Tool results", "Paris", "18 C and sunny", '"a": 2', "Let me use the tools.")


@pytest.fixture
def stack(aws, model_server, tmp_path, monkeypatch, spans):
    registry = {
        "version": 1,
        "providers": {"compat": {"type": "openai", "base_url": model_server.base_url, "max_retries": 0}},
        "models": {
            "tool-loop": {"provider": "compat", "upstream": "tool-loop", "kind": "chat"},
            "demo-chat": {"provider": "local", "upstream": "demo-chat", "kind": "chat"},
        },
    }
    serve_models(registry, tmp_path, monkeypatch)
    monkeypatch.setenv("ASYNCINFER_MCP_ALLOW_PRIVATE", "true")  # the test server is on 127.0.0.1
    shared.service.cache_clear()
    worker.runtime.cache_clear()
    spans.clear()
    return aws


def submit(aws, body: dict) -> tuple[str, str]:
    """The new task's id and the submit answer's `traceparent`."""
    answer = aws.invoke_api("POST", "/v1/async", body=json.dumps(body))
    assert answer["statusCode"] == 200, answer["body"]
    return parse_any(json.loads(answer["body"])["id"]), answer["headers"][tracing.HEADER]


def span_id(span: ReadableSpan) -> int:
    return span.get_span_context().span_id


def ours(exporter: InMemorySpanExporter) -> list[ReadableSpan]:
    """asyncinfer's spans, in the order they started (the MCP SDK makes its own too, client's and server's)."""
    found = [s for s in exporter.get_finished_spans() if s.instrumentation_scope.name == "asyncinfer"]
    return sorted(found, key=lambda s: s.start_time)


def test_a_task_with_tools_is_one_trace_from_its_submit_to_its_last_model_turn(stack, tools, spans):
    seen = len(tools.headers)
    task_id, traceparent = submit(
        stack,
        {
            "model": "tool-loop",
            "messages": [{"role": "user", "content": PROMPT}],
            "mcp_servers": [{"name": "calc", "url": tools.url}],
        },
    )
    assert stack.store.get("acme", task_id).traceparent == traceparent
    stack.run_worker()
    task = stack.store.get("acme", task_id)
    assert task.status == TaskStatus.COMPLETED, task.error
    assert task.result["choices"][0]["message"]["content"] == ANSWER

    trace = tracing.trace_id(traceparent)
    found = ours(spans)
    assert {format(s.context.trace_id, "032x") for s in found} == {trace}
    (request,) = [s for s in found if s.name == "POST /v1/async"]
    assert request.kind.name == "SERVER" and format(span_id(request), "016x") == traceparent.split("-")[2]
    # The queue wait starts at the record's created_at, in whole milliseconds: maybe a little before its request.
    assert [s.name for s in found if s is not request] == [
        "queue wait",
        "claim",
        "run",
        "chat tool-loop",
        "execute_tool calc__add",
        "execute_tool calc__lookup",
        "chat tool-loop",
    ]
    wait, claimed, run, first, add, lookup, second = (s for s in found if s is not request)
    assert all(s.parent.span_id == span_id(request) for s in (wait, claimed, run))
    assert all(s.parent.span_id == span_id(run) for s in (first, add, lookup, second))
    assert wait.end_time <= claimed.end_time and claimed.end_time <= run.start_time
    assert dict(wait.attributes) == {tracing.TASK_ID: task_id, tracing.LANE: "default"}
    assert dict(claimed.attributes) == {
        tracing.TASK_ID: task_id,
        tracing.TENANT: "acme",
        tracing.KIND: "chat",
        tracing.ATTEMPT: 1,
    }
    assert run.attributes[tracing.ATTEMPT] == 1

    for turn, reason in ((first, "tool_calls"), (second, "stop")):
        assert turn.kind.name == "CLIENT"
        assert dict(turn.attributes) == {
            GEN_AI.GEN_AI_OPERATION_NAME: "chat",
            GEN_AI.GEN_AI_REQUEST_MODEL: "tool-loop",
            GEN_AI.GEN_AI_PROVIDER_NAME: "openai",
            GEN_AI.GEN_AI_USAGE_INPUT_TOKENS: 12,
            GEN_AI.GEN_AI_USAGE_OUTPUT_TOKENS: 6,
            GEN_AI.GEN_AI_RESPONSE_FINISH_REASONS: (reason,),
        }
    for call, name, call_id in ((add, "calc__add", "call_0_0"), (lookup, "calc__lookup", "call_0_1")):
        assert dict(call.attributes) == {
            GEN_AI.GEN_AI_OPERATION_NAME: "execute_tool",
            GEN_AI.GEN_AI_TOOL_NAME: name,
            GEN_AI.GEN_AI_TOOL_CALL_ID: call_id,
        }
        assert call.status.is_ok

    # Every request the MCP server got is in the task's trace; each tool call's is under its own span.
    sent = [h.get(tracing.HEADER) for h in tools.headers[seen:]]
    assert sent and all(tracing.trace_id(value) == trace for value in sent), sent
    parents = {value.split("-")[2] for value in sent}
    assert {format(span_id(add), "016x"), format(span_id(lookup), "016x")} <= parents

    # Nothing a client wrote or a model or tool answered is on any span of the trace, the MCP SDK's included.
    for span in spans.get_finished_spans():
        told = [*span.attributes.values(), *(v for e in span.events for v in (e.attributes or {}).values())]
        told += [span.name, span.status.description or ""]
        for secret in SECRETS:
            assert all(secret not in str(value) for value in told), (span.name, secret)


def test_a_caller_s_own_traceparent_makes_the_task_join_its_trace(stack, spans):
    theirs = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    answer = stack.invoke_api(
        "POST",
        "/v1/async",
        body=json.dumps({"model": "demo-chat", "messages": [{"role": "user", "content": PROMPT}]}),
        headers={tracing.HEADER: theirs},
    )
    assert answer["statusCode"] == 200, answer["body"]
    stack.run_worker()
    found = ours(spans)
    assert {format(s.context.trace_id, "032x") for s in found} == {tracing.trace_id(theirs)}
    (turn,) = [s for s in found if s.name == "chat demo-chat"]
    assert turn.attributes[GEN_AI.GEN_AI_PROVIDER_NAME] == "asyncinfer.demo"
    assert turn.attributes[GEN_AI.GEN_AI_RESPONSE_FINISH_REASONS] == ("stop",)
    assert turn.attributes[GEN_AI.GEN_AI_USAGE_OUTPUT_TOKENS] > 0
