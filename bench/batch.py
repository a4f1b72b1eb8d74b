"""(d) Worker batch efficiency: 10 tasks whose provider waits 1 s, delivered in one SQS batch to the real
worker handler on the emulator: the invocation's wall time, and its ratio to the 10 s a worker that
runs a batch's tasks one after another needs."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

from asyncinfer import wiring
from asyncinfer.config import ApiSettings
from asyncinfer.domain.model import TaskStatus
from asyncinfer.handlers import worker
from asyncinfer.providers.demo.chat import DemoChatProvider
from bench.common import EmulatorProcess, Row
from infra.local.functions import LocalFunctions
from infra.local.poller import sqs_event

TASKS = 10
WAIT_SECONDS = 1.0
TARGET_SECONDS = 1.3


class WaitingProvider:
    """A model that takes a second before answering (the instant demo answer after it)."""

    def __init__(self) -> None:
        self._demo = DemoChatProvider(seconds=0)

    def stream_chat(self, upstream_model: str, request) -> Iterator:
        time.sleep(WAIT_SECONDS)
        yield from self._demo.stream_chat(upstream_model, request)


def run() -> Row:
    emulator = EmulatorProcess()
    saved = dict(os.environ)
    try:
        resources = emulator.create_resources("bench-batch")
        os.environ.update(resources.env())
        os.environ.update(
            POWERTOOLS_METRICS_DISABLED="true",
            POWERTOOLS_LOG_LEVEL="ERROR",
            ASYNCINFER_CONCURRENCY=str(TASKS),
        )
        wiring.reset()
        service = wiring.task_service(ApiSettings())
        body = {"model": "demo-chat", "messages": [{"role": "user", "content": "batch"}]}
        sqs = emulator.client("sqs")
        functions = LocalFunctions(timeouts={"worker": 300})

        def batch_of(count: int) -> tuple[list[str], dict]:
            ids = [service.submit_chat("bench", body).id for _ in range(count)]
            messages: list[dict] = []
            while len(messages) < count:
                received = sqs.receive_message(QueueUrl=resources.queue_url, MaxNumberOfMessages=10)
                messages += received.get("Messages", [])
            return ids, sqs_event(messages, resources.queue_arn)

        # A warm instance, as the measured batch would mostly meet: cold starts are row (b).
        runtime, _ = worker.runtime()
        runtime.provider_for = lambda spec: DemoChatProvider(seconds=0)
        functions.invoke("worker", batch_of(1)[1])
        runtime.provider_for = lambda spec: WaitingProvider()
        ids, event = batch_of(TASKS)
        started = time.perf_counter()
        result = functions.invoke("worker", event)
        wall = time.perf_counter() - started
        statuses = {service.store.get("bench", task_id).status for task_id in ids}
        assert result == {"batchItemFailures": []} and statuses == {TaskStatus.COMPLETED}, (result, statuses)
    finally:
        os.environ.clear()
        os.environ.update(saved)
        wiring.reset()
        emulator.stop()
    sequential = TASKS * WAIT_SECONDS
    return Row(
        "d. worker batch efficiency",
        f"{wall:.2f} s for {TASKS} x {WAIT_SECONDS:.0f} s tasks "
        f"({wall / sequential:.2f} of sequential {sequential:.0f} s)",
        f"<= {TARGET_SECONDS} s",
        wall <= TARGET_SECONDS,
        [f"one invocation, {TASKS} messages, ASYNCINFER_CONCURRENCY={TASKS}; every task COMPLETED"],
    )
