"""(c) End-to-end local throughput: `python -m infra.local` (dev gateway, handlers, emulator, worker
pollers) driven over HTTP with the instant demo model at concurrency 1, 8 and 32: tasks/s from the
first submit to the last completion, and submit latency p50/p99. In the same run, the raw PutItem +
SendMessage a submit must perform, against the same emulator; the ratio of the two p50s."""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import boto3
import httpx

from asyncinfer.domain.model import new_task_id
from bench.common import SMOKE, Row, median, percentile
from infra.local.launch import launch

TARGET_RATIO = 1.5
LEVELS = (1, 8, 32)
BODY = {"model": "demo-chat", "messages": [{"role": "user", "content": "How fast is a submit?"}]}


def submit_all(url: str, key: str, tasks: int, concurrency: int) -> tuple[list[float], list[str], float]:
    local = threading.local()

    def client() -> httpx.Client:
        if not hasattr(local, "client"):
            local.client = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=30)
        return local.client

    def one(_: int) -> tuple[float, str]:
        started = time.perf_counter()
        response = client().post("/v1/async", json=BODY)
        elapsed = time.perf_counter() - started
        response.raise_for_status()
        return elapsed, response.json()["id"]

    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        results = list(pool.map(one, range(tasks)))
    return [r[0] for r in results], [r[1] for r in results], started


def wait_completed(url: str, key: str, ids: list[str]) -> float:
    left = set(ids)
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=30) as client:
        while left:
            for task_id in list(left):
                if client.get(f"/v1/async/{task_id}").json()["status"] == "COMPLETED":
                    left.discard(task_id)
            if left:
                time.sleep(0.05)
    return time.perf_counter()


class RawCalls:
    """What a submit must do at the least, straight to the emulator: write the task, send its message.
    The message goes to a queue of its own, so the worker does not chase tasks that do not exist."""

    def __init__(self, emulator: str) -> None:
        options = {"endpoint_url": emulator, "region_name": "us-east-1", "aws_access_key_id": "local"}
        options["aws_secret_access_key"] = "local"
        self.ddb, self.sqs = boto3.client("dynamodb", **options), boto3.client("sqs", **options)
        self.queue_url = self.sqs.create_queue(QueueName="bench-raw")["QueueUrl"]

    def once(self) -> float:
        task_id = new_task_id()
        item = {
            "pk": {"S": "raw"},
            "sk": {"S": f"task#{task_id}"},
            "status": {"S": "CREATED"},
            "request": {"S": json.dumps(BODY)},
        }
        started = time.perf_counter()
        self.ddb.put_item(TableName="asyncinfer-dev-tasks", Item=item, ConditionExpression="attribute_not_exists(pk)")
        self.sqs.send_message(QueueUrl=self.queue_url, MessageBody=json.dumps({"tenant": "raw", "task_id": task_id}))
        return time.perf_counter() - started


def run() -> Row:
    tasks = 16 if SMOKE else 200
    stack = launch(
        "ai_bench_",
        ASYNCINFER_DEMO_CHAT_SECONDS="0",
        ASYNCINFER_WORKER_POLLERS="4",
        POWERTOOLS_LOG_LEVEL="ERROR",
        # The bench is one tenant submitting fast: no quotas in the way.
        ASYNCINFER_SUBMITS_PER_WINDOW="0",
        ASYNCINFER_MAX_INFLIGHT_TASKS="0",
    )
    try:
        levels = {}
        for concurrency in LEVELS:
            latencies, ids, started = submit_all(stack.url, stack.key, tasks, concurrency)
            finished = wait_completed(stack.url, stack.key, ids)
            levels[concurrency] = (tasks / (finished - started), latencies)
        # The ratio: submits and raw pairs taken in turn, so both see the same load on this machine.
        raw_calls = RawCalls(stack.emulator)
        one, raw = [], []
        for _ in range(tasks):
            one += submit_all(stack.url, stack.key, 1, 1)[0]
            raw.append(raw_calls.once())
    finally:
        stack.stop()
    ratio = median(one) / median(raw)
    details = [
        f"c={c}: {rate:.1f} tasks/s, submit p50 {median(lat) * 1000:.1f} ms, p99 {percentile(lat, 99) * 1000:.1f} ms"
        for c, (rate, lat) in levels.items()
    ]
    details.append(
        f"taken in turn: submit over HTTP p50 {median(one) * 1000:.1f} ms, raw PutItem + SendMessage p50 "
        f"{median(raw) * 1000:.1f} ms ({tasks} tasks per level; stack, emulator and workers in one process)"
    )
    return Row(
        "c. local throughput",
        f"{max(r for r, _ in levels.values()):.1f} tasks/s best; submit {ratio:.2f}x its raw calls",
        f"submit <= {TARGET_RATIO}x raw calls",
        ratio <= TARGET_RATIO,
        details,
    )
