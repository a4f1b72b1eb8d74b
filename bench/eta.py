"""Row i: start estimates against actual starts, on the local stack. The flex lane (one worker poller, ten
tasks at a time, 0.5 s each) is warmed, then given a backlog; every tenth queued task's
`estimated_start_at` is read right after the backlog is made, and compared with when it really started."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import httpx

from asyncinfer.domain.ids import parse_any
from asyncinfer.store.dynamodb import DynamoTaskStore
from bench.common import SMOKE, Row, median, quiet_stack

WARM = 10 if SMOKE else 40
BACKLOG = 30 if SMOKE else 300
EVERY = 5 if SMOKE else 10
TARGET = 0.25  # median error, as a share of the median wait
TABLE = "asyncinfer-dev-tasks"


def body(text: str) -> dict:
    return {"model": "demo-chat", "messages": [{"role": "user", "content": text}], "service_tier": "flex"}


def submit_all(client: httpx.Client, prefix: str, count: int) -> list[str]:
    def one(i: int) -> str:
        created = client.post("/v1/async", json=body(f"{prefix} {i}"))
        created.raise_for_status()
        return parse_any(created.json()["id"])

    with ThreadPoolExecutor(8) as pool:
        return list(pool.map(one, range(count)))


def wait_started(store: DynamoTaskStore, tenant: str, ids: list[str], timeout: float = 600) -> dict[str, int]:
    deadline = time.monotonic() + timeout
    started: dict[str, int] = {}
    while len(started) < len(ids):
        if time.monotonic() > deadline:
            raise TimeoutError(f"{len(ids) - len(started)} tasks never started")
        for task_id in ids:
            if task_id not in started and (task := store.get(tenant, task_id)) and task.started_at:
                started[task_id] = task.started_at
        time.sleep(0.2)
    return started


def run() -> Row:
    stack, ddb = quiet_stack(ASYNCINFER_DEMO_CHAT_SECONDS="0.5")
    store = DynamoTaskStore(ddb, TABLE)
    try:
        with httpx.Client(base_url=stack.url, headers={"Authorization": f"Bearer {stack.key}"}, timeout=60) as client:
            wait_started(store, "dev", submit_all(client, "warm", WARM))
            backlog = submit_all(client, "backlog", BACKLOG)
            sampled = backlog[EVERY - 1 :: EVERY]
            estimates: dict[str, tuple[int, int]] = {}
            for task_id in sampled:
                read = client.get(f"/v1/async/{task_id}").json()
                if read.get("estimated_start_at") is not None:
                    at = store.get("dev", task_id)
                    estimates[task_id] = (iso_ms(read["estimated_start_at"]), at.created_at if at else 0)
            started = wait_started(store, "dev", backlog)
    finally:
        stack.stop()
    errors = [abs(started[t] - estimated) / 1000 for t, (estimated, _) in estimates.items()]
    waits = [(started[t] - created) / 1000 for t, (_, created) in estimates.items()]
    if not errors:
        return Row("i. start estimates", "no estimate was given", f"median error <= {TARGET:.0%} of the wait", False)
    error, wait = median(errors), median(waits)
    share = error / wait if wait else 0.0
    return Row(
        "i. start estimates",
        f"median error {error:.1f} s on a median wait of {wait:.1f} s ({share:.0%})",
        f"median error <= {TARGET:.0%} of the median wait",
        share <= TARGET,
        [
            f"every {EVERY}th of {BACKLOG} flex tasks read once right after the backlog was made: {len(estimates)} "
            f"still queued then, with an estimate; the lane warmed with {WARM} tasks; errors min "
            f"{min(errors):.1f} s, max {max(errors):.1f} s"
        ],
    )


def iso_ms(stamp: str) -> int:
    from datetime import datetime

    return int(datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp() * 1000)
