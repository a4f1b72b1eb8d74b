"""Row h: idempotent submits on the local stack. Sequential POST /v1/async over HTTP, with and without an
Idempotency-Key (one TransactWriteItems for the task and its key's name, against one PutItem), with 100
and with 10,000 tasks already in the table: their medians and the ratio key/no key at each size. The
emulator's transactions once copied the whole table (2 s a keyed submit at 600 tasks); on DynamoDB, and in
the emulator since, they cost the same whatever the table holds. The tasks already there are written
straight to the emulator, 25 a call, not submitted."""

from __future__ import annotations

import time
import uuid

import httpx

from asyncinfer.domain.model import Task, TaskKind, TaskStatus, new_task_id, now_ms
from asyncinfer.store.codec import task_to_item
from bench.common import SMOKE, Row, median, quiet_stack

SIZES = (10, 100) if SMOKE else (100, 10_000)
SUBMITS = 5 if SMOKE else 20
TARGET_RATIO = 2.0
TABLE = "asyncinfer-dev-tasks"
BODY = {"model": "demo-chat", "messages": [{"role": "user", "content": "Once, please."}]}


def seed(ddb, count: int) -> None:
    """`count` finished tasks of another tenant, written with BatchWriteItem."""
    at = now_ms()
    for start in range(0, count, 25):
        puts = [
            {
                "PutRequest": {
                    "Item": task_to_item(
                        Task(
                            id=new_task_id(),
                            tenant="bench-seed",
                            kind=TaskKind.CHAT,
                            model="demo-chat",
                            status=TaskStatus.COMPLETED,
                            created_at=at,
                            updated_at=at,
                            completed_at=at,
                            request=BODY,
                        )
                    )
                }
            }
            for _ in range(min(25, count - start))
        ]
        requests = {TABLE: puts}
        while requests:
            requests = ddb.batch_write_item(RequestItems=requests).get("UnprocessedItems") or {}


def timed_submit(client: httpx.Client, headers: dict[str, str]) -> float:
    started = time.perf_counter()
    response = client.post("/v1/async", json=BODY, headers=headers)
    elapsed = time.perf_counter() - started
    response.raise_for_status()
    return elapsed


def measure(client: httpx.Client, submits: int) -> tuple[list[float], list[float]]:
    """Submits without and with a key taken in turn, so both see the same load on this machine."""
    plain, keyed = [], []
    for _ in range(submits):
        plain.append(timed_submit(client, {}))
        keyed.append(timed_submit(client, {"Idempotency-Key": f"bench-{uuid.uuid4()}"}))
    return plain, keyed


def run() -> Row:
    stack, ddb = quiet_stack(ASYNCINFER_DEMO_CHAT_SECONDS="0")
    figures: dict[int, tuple[float, float]] = {}
    seeding: dict[int, float] = {}
    try:
        with httpx.Client(base_url=stack.url, headers={"Authorization": f"Bearer {stack.key}"}, timeout=60) as client:
            measure(client, 1)  # the handlers' first (cold) invocations are not what this row measures
            in_table = 2  # the warm-up's tasks
            for size in SIZES:
                started = time.perf_counter()
                seed(ddb, size - in_table)
                seeding[size] = time.perf_counter() - started
                plain, keyed = measure(client, SUBMITS)
                in_table = size + 2 * SUBMITS
                figures[size] = (median(plain), median(keyed))
    finally:
        stack.stop()
    ratios = {size: keyed / plain for size, (plain, keyed) in figures.items()}
    small, large = SIZES
    details = [
        f"{size:,} tasks in the table: submit p50 {plain * 1000:.1f} ms without a key, {keyed * 1000:.1f} ms with "
        f"one ({ratios[size]:.2f}x; {SUBMITS} of each, sequential, taken in turn; "
        f"{size:,} tasks written in {seeding[size]:.1f} s)"
        for size, (plain, keyed) in figures.items()
    ]
    details.append(
        f"at {large:,} tasks against {small:,}: {figures[large][1] / figures[small][1]:.2f}x with a key, "
        f"{figures[large][0] / figures[small][0]:.2f}x without"
    )
    return Row(
        "h. idempotent submits",
        " / ".join(f"key {ratios[size]:.2f}x no key at {size:,} tasks" for size in SIZES),
        f"key <= {TARGET_RATIO:g}x no key at {small:,} and {large:,} tasks",
        all(ratio <= TARGET_RATIO for ratio in ratios.values()),
        details,
    )
