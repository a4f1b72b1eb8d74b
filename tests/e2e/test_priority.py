"""Classes under a backlog, on the real local stack: behind 500 flex tasks a priority task starts within
twice its idle start delay (plus the emulator's share, below), and while both classes have work the flex
class keeps at least a quarter of the completions (each lane has workers of its own: weighted shares, so
nobody waits for another class's backlog and nobody is starved). Queue positions count the tasks ahead in the lane.

As on AWS, the flex lane's workers are a process of their own and the emulated services another one, so the
backlog's work does not run in the process where the API and the priority lane start their tasks."""

from __future__ import annotations

import random
import statistics
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from asyncinfer.domain.ids import parse_any
from asyncinfer.domain.model import Task
from asyncinfer.store.dynamodb import DynamoTaskStore
from tests.e2e.conftest import TABLE, start_stack, stop_stack, wait_for

pytestmark = pytest.mark.e2e
SAMPLES = 15
BACKLOG = 500
BURST = 60
CHAT_SECONDS = 1.0
# Each sample is submitted once the one before it has ended, and both classes run the same 1 s model: without
# an offset every sample would fall at the same moment of the flex batches' cycle (their claims and their
# endings, about 1.3 s apart), measuring that moment only. A random offset within one cycle spreads them.
CYCLE_SECONDS = CHAT_SECONDS + 0.3
# The emulated services are one process that the flex lane's bursts (ten claims, flushes and endings at once) also
# use: a priority sample landing on a burst waits for it there, which separate services on AWS would not make it do.
# Samples split into two modes (alone: 15-24 ms and 53-198 ms around a 17 ms idle), so on the shared 2-core CI
# machine the median lands on either side of twice the idle delay (22 ms, then 40 ms against 18 ms). The bound
# allows that wait beside twice the idle delay; a task that waited behind the backlog would wait for all of it,
# about 30 s.
SHARED_EMULATOR_MS = 50


@pytest.fixture(scope="module")
def stack():
    running = start_stack(
        ASYNCINFER_DEMO_CHAT_SECONDS=str(CHAT_SECONDS),
        ASYNCINFER_FLUSH_SECONDS="0.5",
        ASYNCINFER_SUBMITS_PER_WINDOW="0",
    )
    yield running
    stop_stack(running)


def body(text: str, tier: str) -> dict:
    return {"model": "demo-chat", "messages": [{"role": "user", "content": text}], "service_tier": tier}


def delay_ms(task: Task) -> int:
    return task.started_at - task.created_at


def test_a_priority_task_starts_within_twice_its_idle_delay_behind_500_flex_tasks_and_flex_keeps_its_share(stack):
    store = DynamoTaskStore(stack.aws("dynamodb"), TABLE)

    def submit(client, text: str, tier: str) -> str:
        created = client.post("/v1/async", json=body(text, tier))
        assert created.status_code == 200, created.text
        return parse_any(created.json()["id"])

    def started(client, text: str) -> Task:
        task_id = submit(client, text, "priority")
        task = wait_for(lambda: (t := store.get("dev", task_id)) and t.started_at and t, what="a start")
        wait_for(lambda: store.get("dev", task_id).terminal, timeout=60, what=f"the end of {task_id}")
        return task

    offsets = random.Random(21)

    def started_behind(client, text: str) -> Task:
        time.sleep(offsets.uniform(0, CYCLE_SECONDS))  # a sampling offset, not a wait for a condition
        return started(client, text)

    with stack.client() as client:
        idle = statistics.median(delay_ms(started(client, f"idle {i}")) for i in range(SAMPLES))
        with ThreadPoolExecutor(8) as pool:
            flex = list(pool.map(lambda i: submit(client, f"flex {i}", "flex"), range(BACKLOG)))
        waiting = client.get(f"/v1/async/{flex[-1]}").json()
        behind = [started_behind(client, f"behind {i}") for i in range(SAMPLES)]
        loaded = statistics.median(delay_ms(t) for t in behind)
        # A burst of the priority class beside the flex backlog: both lanes busy at once.
        burst = [submit(client, f"burst {i}", "priority") for i in range(BURST)]
        wait_for(lambda: all(store.get("dev", t).terminal for t in burst), timeout=120, what="the burst")
    ends = sorted(store.get("dev", t).completed_at for t in burst)
    first, last = ends[0], ends[-1]
    flex_tasks = [store.get("dev", t) for t in flex]
    flex_done = sum(1 for t in flex_tasks if t.completed_at and first <= t.completed_at <= last)
    share = flex_done / (flex_done + BURST)
    print(
        f"priority start delay: idle {idle} ms, behind {BACKLOG} flex tasks {loaded} ms (medians of {SAMPLES}: "
        f"{sorted(delay_ms(t) for t in behind)}); "
        f"while both lanes had work: {flex_done} flex and {BURST} priority completions (flex share {share:.0%}); "
        f"the last flex task's queue_position was {waiting.get('queue_position')}"
    )
    assert sum(1 for t in flex_tasks if not t.terminal) > 0, "the flex backlog was still there at the end"
    assert loaded <= 2 * idle + SHARED_EMULATOR_MS, f"{loaded} ms behind the backlog against {idle} ms idle"
    assert share >= 0.25
    assert waiting["service_tier"] == "flex" and waiting["queue_position"] > 0
