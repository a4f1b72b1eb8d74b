"""Each class is fair across tenants, on the real local stack (fair queues, as SQS's on AWS): tenant A keeps
200 priority tasks waiting; tenant B's priority task then starts after at most (the lane's concurrency + one
receive batch) of A's, within twice its idle delay plus one demo task. Classes are entitlements: a tenant not
entitled to priority gets a 403, one past its waiting quota a 429 with Retry-After."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from asyncinfer.domain.ids import parse_any
from asyncinfer.domain.model import Task
from asyncinfer.store.dynamodb import DynamoTaskStore
from infra.local.poller import BATCH_SIZE
from tests.e2e.conftest import TABLE, start_stack, stop_stack, wait_for

pytestmark = pytest.mark.e2e
SAMPLES = 11
# A's tasks drain from the lane while it tops its backlog up; the local stack admits only some 17 submits a
# second from 8 threads (each one counts the tenant's waiting tasks in the emulator), so at 1 s a task (20
# in flight: 15 ended a second) a top-up barely outpaced the drain and the backlog once read 60 after one;
# at 2 s, on a slower machine, 58 after every first top-up (old and new code alike). At 4 s it drains 5 a second.
CHAT_SECONDS = 4.0
BACKLOG = 200
POLLERS = 2  # the priority lane's (ASYNCINFER_WORKER_POLLERS): each takes a batch of BATCH_SIZE at a time
LANE_CONCURRENCY = POLLERS * BATCH_SIZE


@pytest.fixture(scope="module")
def stack():
    running = start_stack(
        ASYNCINFER_DEMO_CHAT_SECONDS=str(CHAT_SECONDS),
        ASYNCINFER_FLUSH_SECONDS="0.5",
        ASYNCINFER_SUBMITS_PER_WINDOW="0",
        ASYNCINFER_WORKER_POLLERS=str(POLLERS),
    )
    yield running
    stop_stack(running)


def tenant_cli(stack, *args: str) -> list[str]:
    env = {**os.environ, "AWS_ENDPOINT_URL": stack.emulator}
    for name in ("AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION", "AWS_REGION"):
        env.pop(name, None)
    cli = str(Path(sys.executable).with_name("asyncinfer"))
    done = subprocess.run([cli, "tenant", *args, "--table", TABLE], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def body(text: str, tier: str = "priority") -> dict:
    return {"model": "demo-chat", "messages": [{"role": "user", "content": text}], "service_tier": tier}


@pytest.mark.timeout(600)
def test_a_tenants_priority_backlog_does_not_hold_back_anothers_priority_task(stack):
    store = DynamoTaskStore(stack.aws("dynamodb"), TABLE)
    key_a, key_b = stack.new_key("noisy"), stack.new_key("quiet")

    def submit(client, text: str) -> str:
        created = client.post("/v1/async", json=body(text))
        assert created.status_code == 200, created.text
        return parse_any(created.json()["id"])

    def started(client, text: str) -> Task:
        task_id = submit(client, text)
        task = wait_for(lambda: (t := store.get("quiet", task_id)) and t.started_at and t, timeout=60, what="B's start")
        wait_for(lambda: store.get("quiet", task_id).terminal, timeout=60, what="B's end")
        return task

    def waiting_of_a() -> int:
        return store.count_waiting("noisy", "priority", BACKLOG)

    def top_up(client) -> None:
        """A keeps a backlog of at least a hundred waiting through every sample: topped up to BACKLOG whenever
        fewer than three quarters wait, since the lane drains some of A's tasks every second meanwhile."""
        missing = BACKLOG - waiting_of_a()
        if missing > BACKLOG // 4:
            with ThreadPoolExecutor(8) as pool:
                list(pool.map(lambda i: submit(client, f"a {i}"), range(missing)))

    with stack.client(key_a) as a, stack.client(key_b) as b:
        idle = [started(b, f"idle {i}") for i in range(SAMPLES)]
        behind = []
        for i in range(SAMPLES):
            top_up(a)
            assert waiting_of_a() >= BACKLOG // 2
            behind.append(started(b, f"behind {i}"))
        wait_for(lambda: waiting_of_a() == 0, timeout=120, interval=0.5, what="A's backlog to drain")
        a_tasks = []
        page = store.list("noisy", limit=100, after=None, status=None)
        a_tasks += page.tasks
        while page.next_cursor:
            page = store.list("noisy", limit=100, after=page.next_cursor, status=None)
            a_tasks += page.tasks

    def delay(task: Task) -> int:
        return task.started_at - task.created_at

    idle_ms, loaded_ms = statistics.median(map(delay, idle)), statistics.median(map(delay, behind))
    a_starts = sorted(t.started_at for t in a_tasks if t.started_at)
    overtaking = [sum(1 for at in a_starts if t.created_at < at < t.started_at) for t in behind]
    # One demo task's duration as this run's machine gives it (paced at CHAT_SECONDS, plus its claim, flushes
    # and completion): a worker instance takes new messages when its batch ends, so B may wait that long.
    task_ms = statistics.median(t.completed_at - t.started_at for t in a_tasks if t.completed_at and t.started_at)
    print(
        f"\nB idle {idle_ms} ms, behind A's backlog {loaded_ms} ms (a demo task {task_ms} ms); "
        f"A's starts before B's: {overtaking}"
    )
    assert max(overtaking) <= LANE_CONCURRENCY + BATCH_SIZE
    assert loaded_ms <= 2 * idle_ms + task_ms


def test_priority_is_an_entitlement_and_a_waiting_quota_is_a_429(stack):
    key = stack.new_key("limited")
    tenant_cli(stack, "set", "--tenant", "limited", "--classes", "default,flex", "--waiting", "flex=1")
    with stack.client(key) as client:
        refused = client.post("/v1/async", json=body("now"))
        assert refused.status_code == 403, refused.text
        assert refused.json()["error"]["code"] == "class_not_allowed"
        first = [client.post("/v1/async", json=body(f"later {i}", "flex")) for i in range(4)]
        codes = [r.status_code for r in first]
        # One waits; the next ones are refused until it starts (each ends quickly: fewer may be refused).
        assert codes[0] == 200 and 429 in codes, codes
        limited = next(r for r in first if r.status_code == 429)
        assert limited.json()["error"]["code"] == "too_many_waiting"
        assert int(limited.headers["Retry-After"]) > 0
