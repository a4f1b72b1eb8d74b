"""A single model turn longer than the worker's invocation (issue 30, point 6), on the local stack's default
settings (a 60 s worker, a 900 s runner): the MiroMind page's model paced to the page's 330 s, and a plain
chat model, both submitted at once to one stack so that they run side by side."""

from __future__ import annotations

import json

import pytest

from asyncinfer.ops.sse import sse_events
from tests.e2e.conftest import start_stack, stop_stack, wait_for

pytestmark = pytest.mark.e2e

PAGE_SECONDS = "330"  # the MiroMind page's timeline: created 10:00:00, completed 10:05:30
MIROMIND = "mirothinker-1-7-deepresearch-mini"
PLAIN = "demo-chat"  # a model that runs on the worker
ENDED = ("COMPLETED", "FAILED", "CANCELLED")


@pytest.fixture(scope="module")
def long_turns():
    """One stack, both tasks submitted before either test waits: the file costs one long task's time."""
    stack = start_stack(ASYNCINFER_DEMO_CHAT_SECONDS=PAGE_SECONDS)
    try:
        with stack.client() as client:
            ids = {}
            for model in (MIROMIND, PLAIN):
                body = {"model": model, "messages": [{"role": "user", "content": f"A long answer from {model}"}]}
                answer = client.post("/v1/async", json=body)
                assert answer.status_code == 200, answer.text
                ids[model] = answer.json()["id"]
        yield stack, ids
    finally:
        if stack.process.poll() is None:
            stop_stack(stack)


def ended(stack, task_id: str) -> dict:
    """The task once it has ended, however it ended (a failure shows at once, not after the wait)."""
    with stack.client() as client:
        return wait_for(
            lambda: (t := client.get(f"/v1/async/{task_id}").json())["status"] in ENDED and t,
            timeout=600,
            interval=1,
            what="the task's end",
        )


def fate(task: dict) -> dict:
    return {k: task.get(k) for k in ("status", "error", "started_at", "failed_at", "completed_at")}


def stream(stack, task_id: str) -> list[dict]:
    """The ended task's whole event stream, replayed."""
    with stack.client() as client, client.stream("GET", f"/v1/async/{task_id}/events", timeout=60) as response:
        assert response.status_code == 200
        return [e for e in sse_events(response) if e.get("event") not in ("status", "end")]


def assert_one_answer(task: dict, events: list[dict]) -> None:
    """What a reader of the stream keeps (what follows the last `restart`, if any) is the answer, once; the
    usage is the answer's, not the answer's plus a dropped partial turn."""
    content = task["choices"][0]["message"]["content"]
    restarts = [i for i, e in enumerate(events) if e.get("event") == "restart"]
    kept = events[restarts[-1] + 1 :] if restarts else events
    assert "".join(json.loads(e["data"])["text"] for e in kept if e["event"] == "delta") == content
    assert task["usage"]["completion_tokens"] == len(content.split(" "))


@pytest.mark.timeout(900)
def test_the_miromind_page_task_paced_to_330_seconds_completes(long_turns):
    stack, ids = long_turns
    task = ended(stack, ids[MIROMIND])
    assert task["status"] == "COMPLETED", fate(task)
    assert f"Demo answer from {MIROMIND}" in task["choices"][0]["message"]["content"]
    assert_one_answer(task, stream(stack, ids[MIROMIND]))


@pytest.mark.timeout(900)
def test_a_plain_chat_model_paced_past_the_workers_timeout_completes(long_turns):
    stack, ids = long_turns
    task = ended(stack, ids[PLAIN])
    assert task["status"] == "COMPLETED", fate(task)
    events = stream(stack, ids[PLAIN])
    kinds = [e["event"] for e in events]
    assert kinds.count("restart") == 1, "moved once"
    at = kinds.index("restart")
    assert "delta" in kinds[:at], "the worker streamed part of the turn before it handed the task over"
    assert json.loads(events[at]["data"])["reason"] == "handed_over"
    assert_one_answer(task, events)
