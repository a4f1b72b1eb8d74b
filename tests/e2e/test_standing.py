"""Where tasks stand, on the real local stack: the places of 20 queued tasks are exact while nothing else
arrives, and a tool-loop task's progress advances step by step on its stream and on its reads, with an
estimated finish while it runs."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import pytest

from asyncinfer.domain.ids import parse_any
from asyncinfer.domain.model import TaskStatus
from asyncinfer.ops.sse import sse_events
from asyncinfer.store.dynamodb import DynamoTaskStore
from tests.e2e.conftest import TABLE, start_stack, stop_stack, wait_for

pytestmark = pytest.mark.e2e
WAITING = 20


@pytest.fixture(scope="module")
def stack():
    # Answers take 20 s: the flex lane's one poller, one slot an instance, holds its first task that long, and
    # the rest wait (with more slots its instance would take them from the queue itself).
    running = start_stack(
        ASYNCINFER_DEMO_CHAT_SECONDS="20", ASYNCINFER_SUBMITS_PER_WINDOW="0", ASYNCINFER_WORKER_SLOTS="1"
    )
    yield running
    stop_stack(running)


def test_the_places_of_20_queued_tasks_are_exact_while_nothing_else_arrives(stack):
    store = DynamoTaskStore(stack.aws("dynamodb"), TABLE)
    body = {"model": "demo-chat", "messages": [{"role": "user", "content": "wait"}], "service_tier": "flex"}

    def status(task_id: str) -> TaskStatus:
        return store.get("dev", parse_any(task_id)).status

    with stack.client() as client:
        # The flex lane's one poller takes this one and is busy with it for 20 s: the next ones wait.
        first = client.post("/v1/async", json=body).json()["id"]
        wait_for(lambda: status(first) != TaskStatus.CREATED, timeout=30, what="the first flex task to start")
        with ThreadPoolExecutor(4) as pool:
            waiting = list(pool.map(lambda _: client.post("/v1/async", json=body).json()["id"], range(WAITING)))
        waiting.sort(key=parse_any)  # creation order: ids are time-ordered
        reads = [client.get(f"/v1/async/{t}").json() for t in waiting]
        assert all(status(t) == TaskStatus.CREATED for t in waiting), "nothing started while the places were read"
    assert [r["queue_position"] for r in reads] == list(range(WAITING)), "each one's place: the tasks ahead of it"
    estimates = [r["estimated_start_at"] for r in reads]
    assert estimates[0] is not None and estimates == sorted(e for e in estimates if e is not None)


def test_a_tool_loops_progress_advances_step_by_step_on_its_stream_and_its_reads(stack):
    body = {
        "model": "demo-deep-research",
        "messages": [{"role": "user", "content": "Why do cats purr?"}],
        "demo_research": {"steps": 3, "step_seconds": 1},
    }
    seen: list[dict] = []
    with stack.client() as client:
        task_id = client.post("/v1/async", json=body).json()["id"]

        def ended() -> bool:
            read = client.get(f"/v1/async/{task_id}").json()
            if read["status"] == "IN_PROGRESS" and "progress" in read:
                seen.append(read)
            return read["status"] in ("COMPLETED", "FAILED", "CANCELLED")

        wait_for(ended, timeout=90, interval=0.2, what="the research to end")
        with client.stream("GET", f"/v1/async/{task_id}/events", timeout=30) as response:
            events = [e for e in sse_events(response) if e.get("event") == "progress"]
        done = client.get(f"/v1/async/{task_id}").json()
    assert done["status"] == "COMPLETED", done
    steps = [json.loads(e["data"]) for e in events]
    assert [(s["step"], s["steps"], s["percent"]) for s in steps] == [(1, 4, 25.0), (2, 4, 50.0), (3, 4, 75.0)]
    # The reads while it ran said the steps in order, each with an estimated finish.
    on_reads = [r["progress"]["step"] for r in seen]
    assert on_reads == sorted(on_reads) and len(set(on_reads)) >= 2, on_reads
    assert all(r["estimated_finish_at"] for r in seen)
    assert done["progress"]["percent"] == 100.0
