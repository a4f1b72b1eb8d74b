"""Long-task limits (issue 29, criterion 4) on the local stack: a tenant's long tasks on the runner are
capped, batch items included; a long task over the cap waits (its message comes back, it is not failed) and
runs when a slot frees. Proven by the tasks' own start and end times."""

from __future__ import annotations

import time

import pytest

from asyncinfer.domain.model import Task, TaskStatus
from asyncinfer.store.dynamodb import DynamoTaskStore
from tests.e2e.conftest import TABLE, start_stack, stop_stack, wait_for

pytestmark = pytest.mark.e2e

CAP = 3
ITEMS = 20
PACE = {"steps": 2, "step_seconds": 1.5}


@pytest.fixture(scope="module")
def capped():
    """A stack of its own (its tenant runs nothing else), capped at CAP long tasks, waiting ones looking
    again every second, research steps short."""
    running = start_stack(
        ASYNCINFER_MAX_LONG_TASKS_PER_TENANT=str(CAP),
        ASYNCINFER_LONG_TASK_WAIT_SECONDS="1",
        ASYNCINFER_DEMO_RESEARCH_TOOL_SECONDS="0.2",
    )
    yield running
    if running.process.poll() is None:
        stop_stack(running)


def research_body(prompt: str) -> dict:
    return {"model": "demo-deep-research", "messages": [{"role": "user", "content": prompt}], "demo_research": PACE}


def long_tasks(store: DynamoTaskStore) -> list[Task]:
    return [t for t in store.list("dev", limit=100, after=None, status=None).tasks if t.model == "demo-deep-research"]


def most_at_once(intervals: list[tuple[int, int]]) -> int:
    """The most intervals that overlap at any instant (one ending when another starts does not overlap)."""
    edges = sorted([(start, 1) for start, _ in intervals] + [(end, -1) for _, end in intervals])
    running = most = 0
    for _, step in edges:  # at equal times the end (-1) sorts first
        running += step
        most = max(most, running)
    return most


@pytest.mark.timeout(600)
def test_a_tenant_never_runs_more_than_its_cap_of_long_tasks_and_one_over_it_waits_then_completes(capped):
    store = DynamoTaskStore(capped.aws("dynamodb"), TABLE)
    with capped.client() as client:
        requests = [{"custom_id": f"r-{i:02d}", "body": research_body(f"question {i}")} for i in range(ITEMS)]
        created = client.post("/v1/batches", json={"requests": requests})
        assert created.status_code == 200, created.text
        batch_id = created.json()["id"]

        def running() -> int:
            return sum(t.status == TaskStatus.IN_PROGRESS for t in long_tasks(store))

        wait_for(lambda: running() >= CAP, timeout=120, interval=0.2, what=f"{CAP} long tasks to run")
        answer = client.post("/v1/async", json=research_body("one more"))
        assert answer.status_code == 200, answer.text
        single = answer.json()["id"].removeprefix("task_").replace("-", "")

        seen: list[int] = []
        single_states: set[str] = set()
        deadline = time.monotonic() + 400
        while time.monotonic() < deadline:
            tasks = long_tasks(store)
            seen.append(sum(t.status == TaskStatus.IN_PROGRESS for t in tasks))
            single_states |= {t.status.value for t in tasks if t.id == single}
            if len(tasks) == ITEMS + 1 and all(t.terminal for t in tasks):
                break
            time.sleep(0.25)
        batch = wait_for(
            lambda: (b := client.get(f"/v1/batches/{batch_id}").json())["status"] == "completed" and b,
            timeout=60,
            what="the batch to complete",
        )

    tasks = long_tasks(store)
    assert len(tasks) == ITEMS + 1
    assert {t.status for t in tasks} == {TaskStatus.COMPLETED}, [(t.id, t.status, t.error) for t in tasks]
    assert batch["request_counts"]["completed"] == ITEMS, batch["request_counts"]
    intervals = [(t.started_at, t.completed_at) for t in tasks]
    at_once = most_at_once(intervals)
    print(f"\nmost long tasks running at once: {at_once} by their times, {max(seen)} sampled; cap {CAP}")
    assert at_once <= CAP, f"{at_once} long tasks of one tenant ran at once (cap {CAP})"
    assert max(seen) <= CAP

    # The one submitted while CAP ran waited (never failed) and started only once a slot had freed.
    (one,) = [t for t in tasks if t.id == single]
    assert "FAILED" not in single_states and "CREATED" in single_states, single_states
    first_end = min(t.completed_at for t in tasks if t.id != single)
    assert one.started_at >= first_end, (one.started_at, first_end)
    assert one.attempt == 1
    span = (max(end for _, end in intervals) - min(start for start, _ in intervals)) / 1000
    print(f"the one over the cap waited {(one.started_at - one.created_at) / 1000:.1f} s; all in {span:.1f} s")
