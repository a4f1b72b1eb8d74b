"""One trace per task on the local stack: the submit's `traceparent` names the trace that its queue wait,
claim, model turns, tool calls, runner invocations and webhook deliveries join, and `asyncinfer trace`
prints it (docs/operate/tracing.md)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.conftest import Stack, start_stack, stop_stack, wait_for
from tests.e2e.test_long_tasks import finished, invocations, research
from tests.support.mcp_server import RunningMcpServer
from tests.support.webhook_receiver import WebhookReceiver

pytestmark = pytest.mark.e2e

PROMPT = "What is 20 plus 22? (a secret prompt)"
TASK = "asyncinfer.task.id"


@pytest.fixture(scope="module")
def traced():
    """Runner invocations of 20 s, so that a minute's long task crosses several."""
    running = start_stack(
        ASYNCINFER_RUNNER_TIMEOUT_SECONDS="20",
        ASYNCINFER_STEP_BUDGET_SECONDS="19",
        ASYNCINFER_DEADLINE_MARGIN_SECONDS="1",
    )
    yield running
    if running.process.poll() is None:
        stop_stack(running)


def trace_of(header: str) -> str:
    version, trace_id, span_id, _flags = header.split("-")
    assert version == "00" and len(trace_id) == 32 and len(span_id) == 16
    return trace_id


def spans(stack: Stack) -> list[dict]:
    path = Path(stack.stack_file).with_name(f"{Path(stack.stack_file).stem}.traces.jsonl")
    return [json.loads(line) for line in path.read_text().splitlines() if line.endswith("}")]


def in_trace(stack: Stack, trace_id: str) -> list[dict]:
    return sorted((s for s in spans(stack) if s["trace_id"] == trace_id), key=lambda s: s["start_ns"])


def traced_task(stack: Stack, task_id: str) -> str:
    """The trace of a task whose submit's answer the helper did not keep: the one its spans name."""
    store_id = task_id.removeprefix("task_").replace("-", "")
    return wait_for(
        lambda: next((s["trace_id"] for s in spans(stack) if s["attributes"].get(TASK) == store_id), None),
        what="the task's first span",
    )


def trace_command(stack: Stack, task_id: str) -> list[str]:
    """`asyncinfer trace TASK_ID`, as a user runs it beside `make dev`: it finds the stack by itself."""
    cli = Path(sys.executable).with_name("asyncinfer")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "ASYNCINFER_"))}
    env["ASYNCINFER_STACK_FILE"] = str(stack.stack_file)
    done = subprocess.run([str(cli), "trace", task_id], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def hop_index(lines: list[str], prefix: str) -> int:
    return next(i for i, line in enumerate(lines) if line.split("ms", 2)[-1].strip().startswith(prefix))


@pytest.mark.timeout(180)
def test_a_chat_tasks_tool_call_and_webhook_are_one_trace_that_asyncinfer_trace_prints_in_order(traced):
    with RunningMcpServer() as tools, WebhookReceiver() as receiver, traced.client() as client:
        body = {
            "model": "demo-chat",
            "messages": [{"role": "user", "content": PROMPT}],
            "mcp_servers": [{"name": "demo", "url": tools.url, "allowed_tools": ["add"]}],
            "webhook": {"url": receiver.url},
        }
        answer = client.post("/v1/async", json=body)
        assert answer.status_code == 200, answer.text
        trace_id = trace_of(answer.headers["traceparent"])
        task_id = answer.json()["id"]
        [delivery] = receiver.wait_for(1, timeout=90)
    assert traced_task(traced, task_id) == trace_id
    assert trace_of(delivery.headers["traceparent"]) == trace_id
    lines = trace_command(traced, task_id)
    print("\n" + "\n".join(lines))
    assert lines[0] == f"trace {trace_id}"
    order = [hop_index(lines, hop) for hop in ("POST /v1/async", "queue wait", "claim", "chat ", "execute_tool ")]
    assert order == sorted(order), lines
    assert hop_index(lines, "webhook delivery") > order[-1], lines
    recorded = in_trace(traced, trace_id)
    assert {s["trace_id"] for s in recorded} == {trace_id}
    # Every span naming the task, in whichever process it was made, is in its trace.
    [store_id] = {s["attributes"][TASK] for s in recorded if TASK in s["attributes"]}
    assert {s["trace_id"] for s in spans(traced) if s["attributes"].get(TASK) == store_id} == {trace_id}
    # Names, ids and counts only: neither the prompt nor the answer.
    text = json.dumps(recorded)
    assert "secret prompt" not in text and "Using the tools" not in text


@pytest.mark.timeout(300)
def test_a_long_tasks_spans_cross_its_runner_invocations_in_one_trace(traced):
    with traced.client() as client:
        # Turns of 11 s in invocations of 20 s: one turn each, as in the long-task tests.
        task_id = research(client, steps=4, step_seconds=11)
        trace_id = traced_task(traced, task_id)
        assert finished(client, task_id, timeout=240)["status"] == "COMPLETED"
    count = invocations(traced, task_id)
    runs = [s for s in in_trace(traced, trace_id) if s["name"] == "runner invocation"]
    assert count >= 3 and len(runs) >= 3, (count, len(runs))


@pytest.mark.timeout(120)
def test_a_batch_items_span_links_to_its_batch(traced):
    with traced.client() as client:
        requests = [
            {"custom_id": f"row-{i}", "body": {"model": "demo-chat", "messages": [{"role": "user", "content": "hi"}]}}
            for i in range(2)
        ]
        answer = client.post("/v1/batches", json={"requests": requests})
        assert answer.status_code == 200, answer.text
        batch_trace = trace_of(answer.headers["traceparent"])
        batch_id = answer.json()["id"]
        wait_for(
            lambda: client.get(f"/v1/batches/{batch_id}").json()["status"] == "completed", timeout=90, what="the batch"
        )
    items = wait_for(
        lambda: [s for s in spans(traced) if s["name"] == "batch item" and s["attributes"].get("asyncinfer.batch.id")],
        what="the items' spans",
    )
    linked = [s for s in items if any(link["trace_id"] == batch_trace for link in s["links"])]
    assert len(linked) == 2, items
    assert all(s["trace_id"] != batch_trace for s in linked), "each item has a trace of its own"
