"""Deadlines on the real local stack: a task whose start deadline passes while it waits behind a backlog ends
`start_timeout` without ever running (the sweeper fails it; no worker reaches it first), and tasks running
past their execution deadline, a chat in the worker and a deep research in the long-task runner, are
stopped and end `deadline_exceeded`, their streams ending with it."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import pytest

from asyncinfer.domain.ids import parse_any
from asyncinfer.ops.sse import sse_events
from asyncinfer.store.dynamodb import DynamoTaskStore
from tests.e2e.conftest import TABLE, start_stack, stop_stack, wait_for

pytestmark = pytest.mark.e2e
# Drains at about 10 tasks a second (one flex poller, batches of 10, 1 s answers): longer than the 2 s deadline
# and the local deadline sweep's 5 s together, so it is the sweeper that ends the task, not a worker reaching it.
BACKLOG = 100


@pytest.fixture(scope="module")
def stack():
    running = start_stack(ASYNCINFER_DEMO_CHAT_SECONDS="1", ASYNCINFER_SUBMITS_PER_WINDOW="0")
    yield running
    stop_stack(running)


def chat(text: str, **extra) -> dict:
    return {"model": "demo-chat", "messages": [{"role": "user", "content": text}], **extra}


def test_a_task_whose_start_deadline_passes_behind_a_backlog_never_runs(stack):
    store = DynamoTaskStore(stack.aws("dynamodb"), TABLE)
    with stack.client() as client:
        with ThreadPoolExecutor(8) as pool:
            backlog = list(
                pool.map(
                    lambda i: client.post("/v1/async", json=chat(f"flex {i}", service_tier="flex")), range(BACKLOG)
                )
            )
        assert all(r.status_code == 200 for r in backlog)
        made = client.post(
            "/v1/async", json=chat("in a hurry", service_tier="flex"), headers={"X-Fal-Request-Timeout": "2"}
        )
        assert made.status_code == 200, made.text
        task_id = made.json()["id"]
        ended = wait_for(
            lambda: (t := client.get(f"/v1/async/{task_id}").json())["status"] != "CREATED" and t,
            timeout=30,
            what="the start deadline to end it",
        )
        task = store.get("dev", parse_any(task_id))
        waiting = sum(1 for r in backlog if not store.get("dev", parse_any(r.json()["id"])).started_at)
    assert ended["status"] == "FAILED" and ended["error"]["code"] == "start_timeout", ended
    assert task.started_at is None and task.attempt == 0 and store.read_events("dev", task.id) == []
    assert task.failed_at >= task.start_by == task.created_at + 2000
    assert waiting > 0, "it ended while tasks ahead of it still waited: no worker reached it"
    print(f"start_timeout {task.failed_at - task.start_by} ms after the deadline, {waiting} tasks still ahead")


def test_a_chat_running_past_its_execution_deadline_is_stopped_and_its_stream_ends_with_it(stack):
    with stack.client() as client:
        made = client.post("/v1/async", json=chat("take your time", execution_timeout=0.4))
        task_id = made.json()["id"]
        with client.stream("GET", f"/v1/async/{task_id}/events", timeout=30) as response:
            events = [e for e in sse_events(response) if e.get("event") != "status"]
        read = client.get(f"/v1/async/{task_id}").json()
    assert read["status"] == "FAILED" and read["error"]["code"] == "deadline_exceeded", read
    assert events[-1]["event"] == "end" and json.loads(events[-1]["data"])["status"] == "FAILED"
    assert any(e["event"] == "delta" for e in events), "it ran until its deadline"


def test_a_long_task_past_its_execution_deadline_is_stopped_by_the_runner(stack):
    body = {
        "model": "demo-deep-research",
        "messages": [{"role": "user", "content": "Why is the sea salty?"}],
        "demo_research": {"steps": 20, "step_seconds": 0.5},
        "execution_timeout": 2,
    }
    with stack.client() as client:
        made = client.post("/v1/async", json=body)
        assert made.status_code == 200, made.text
        task_id = made.json()["id"]
        ended = wait_for(
            lambda: (t := client.get(f"/v1/async/{task_id}").json())["status"] not in ("CREATED", "IN_PROGRESS") and t,
            timeout=60,
            what="the long task to end",
        )
    assert ended["status"] == "FAILED" and ended["error"]["code"] == "deadline_exceeded", ended
    store = DynamoTaskStore(stack.aws("dynamodb"), TABLE)
    task = store.get("dev", parse_any(task_id))
    assert task.execution_arn and task.failed_at - task.finish_by < 5_000
