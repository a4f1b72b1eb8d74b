"""The local stack's console says each thing once, in a line, and expected outcomes without a traceback
(issue 31).

- Cancelling a running long task used to print four tracebacks (87 lines: 'Invalid checkpoint token',
  BackgroundThreadError) from the runner although the task was correctly CANCELLED.
- With metrics off, Powertools never cleared its metric set, and at a metric's 100th value printed it as an
  EMF JSON blob ('{"_aws": {... "CloudWatchMetrics": ...}}') on the console: one per 100 submits, and one
  every 7 minutes from the sweeper's runs on an idle stack.
- Each warning of the handlers was printed twice, once as Powertools' JSON and once as a line (the
  sweeper's "task ... missed its deadline").
- The worker's 50 threads shared clients whose connection pool keeps 10: "Connection pool is full,
  discarding connection", about one line per task."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from functools import partial

import httpx
import pytest

from asyncinfer.domain.ids import parse_any
from infra.local.quiet import ONE_LINE
from tests.e2e.conftest import start_stack, stop_stack, wait_for

pytestmark = pytest.mark.e2e

# Behind 100 flex tasks (one flex poller, 10 at a time, 1.5 s each: 15 s) a task with a 2 s start deadline is
# ended by the sweeper (every 5 s locally), not by a worker reaching it. With the 40 chats of the default
# lane and the other two, more than 100 submits: Powertools' TasksSubmitted reaches 100 values.
BACKLOG = 100
CHATS = 40


def chat(text: str, **extra) -> dict:
    return {"model": "demo-chat", "messages": [{"role": "user", "content": text}], **extra}


def test_cancelling_a_running_long_task_is_one_line_on_the_console():
    stack = start_stack()
    try:
        with httpx.Client(base_url=stack.url, headers={"Authorization": f"Bearer {stack.key}"}, timeout=10) as c:
            body = {
                "model": "demo-deep-research",
                "messages": [{"role": "user", "content": "Cancel me midway"}],
                "demo_research": {"steps": 3, "step_seconds": 2},
            }
            task = c.post("/v1/async", json=body).json()

            wait_for(lambda: c.get(f"/v1/async/{task['id']}").json()["status"] == "IN_PROGRESS", what="running")
            assert c.post(f"/v1/async/{task['id']}/cancel").json()["status"] == "CANCELLED"
            # The runner's invocation notices at its next checkpoint, within a turn (2 s) of the cancel.
            wait_for(lambda: any(ONE_LINE in line for line in stack.output), timeout=30, what="the one line")
            assert c.get(f"/v1/async/{task['id']}").json()["status"] == "CANCELLED"
    finally:
        stop_stack(stack)
    console = "".join(stack.output)
    assert "Traceback" not in console, console[-3000:]
    assert sum(ONE_LINE in line for line in stack.output) == 1, console[-3000:]


def test_tasks_and_deadlines_leave_no_metrics_blob_and_each_warning_once():
    stack = start_stack()
    try:
        with stack.client() as client:
            with ThreadPoolExecutor(4) as pool:
                flex = list(
                    pool.map(
                        lambda i: client.post("/v1/async", json=chat(f"flex {i}", service_tier="flex")), range(BACKLOG)
                    )
                )
                hurry = client.post(
                    "/v1/async", json=chat("in a hurry", service_tier="flex"), headers={"X-Fal-Request-Timeout": "2"}
                )
                chats = list(pool.map(lambda i: client.post("/v1/async", json=chat(f"chat {i}")), range(CHATS)))
            late = client.post("/v1/async", json=chat("take your time", execution_timeout=0.4))
            made = [*flex, hurry, *chats, late]
            assert all(r.status_code == 200 for r in made), [r.text for r in made if r.status_code != 200][:3]

            def ended(task_id: str) -> dict | None:
                task = client.get(f"/v1/async/{task_id}").json()
                return task if task["status"] not in ("CREATED", "IN_PROGRESS") else None

            start_missed = wait_for(
                lambda: ended(hurry.json()["id"]), timeout=60, interval=0.5, what="the start deadline"
            )
            end_missed = wait_for(
                lambda: ended(late.json()["id"]), timeout=60, interval=0.5, what="the execution deadline"
            )
            outcomes = [
                wait_for(partial(ended, r.json()["id"]), timeout=60, interval=0.5, what="the chats") for r in chats
            ]
    finally:
        stop_stack(stack)
    assert start_missed["error"]["code"] == "start_timeout", start_missed
    assert end_missed["error"]["code"] == "deadline_exceeded", end_missed
    assert all(task["status"] == "COMPLETED" for task in outcomes)
    console = "".join(stack.output)

    blobs = sum('"_aws"' in line or "CloudWatchMetrics" in line for line in stack.output)
    assert blobs == 0, f"{blobs} EMF blobs on the console"

    # The sweeper failed it at its start deadline, and said so once, in a line of its own.
    hurried = parse_any(hurry.json()["id"])
    said = [line for line in stack.output if f"task {hurried} missed its deadline" in line]
    assert len(said) == 1, said
    assert said[0].startswith("WARNING asyncinfer.tasks.sweeper "), said

    # Each deadline missed is at most a line, however the task is named (its id, or the API's task_...).
    for response in (hurry, late):
        task_id = response.json()["id"]
        lines = [line for line in stack.output if task_id in line or parse_any(task_id) in line]
        assert len(lines) <= 1, lines

    pool_full = sum("Connection pool is full" in line for line in stack.output)
    assert pool_full == 0, f"'Connection pool is full' {pool_full} times"
    assert "Traceback" not in console, console[-3000:]
