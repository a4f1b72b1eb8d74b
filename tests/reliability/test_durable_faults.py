"""Fault injection for long tasks: the runner's real handler under the testing SDK's local durable execution
service (tests/support/durable.py), with its invocations dying at random points in and between steps
(the connection dropped without an answer, as a killed instance's), its store calls throttled, model turns
failing midway, dispatch messages duplicated, and cancels at random moments. After quiescence every task
has ended, none COMPLETED after a CANCELLED, every completed one with the calm run's answer and usage
(counted once per turn), every event log with each event once, and no execution left running.

Its size is a tenth of `RELIABILITY_TASKS` (20 here; `make reliability` runs 100)."""

from __future__ import annotations

import contextlib
import os
import random
import threading
import time
from collections import Counter

import pytest
from aws_durable_execution_sdk_python_testing.executor import Executor

from asyncinfer import wiring
from asyncinfer.config import ApiSettings
from asyncinfer.domain.model import TERMINAL, TaskStatus
from asyncinfer.domain.submission import Submission
from asyncinfer.executions.base import ENDED
from asyncinfer.handlers import runner
from asyncinfer.providers.base import ProviderError
from asyncinfer.providers.demo.research import DemoResearchProvider, Pace
from asyncinfer.tasks.sweeper import Sweeper
from tests.reliability.test_fault_injection import SEED, Chaos, Crash, Wrapped
from tests.support.durable import RUNNER_ARN, DurableRuntime

pytestmark = pytest.mark.integration

TASKS = max(10, int(os.environ.get("RELIABILITY_TASKS", "200")) // 10)
QUIESCENCE_SECONDS = 120 + TASKS * 3
PROMPT = "What do the faults change?"
BODY = {
    "model": "demo-deep-research",
    "messages": [{"role": "user", "content": PROMPT}],
    "demo_research": {"steps": 2, "step_seconds": 0},
}


class FlakyResearch(DemoResearchProvider):
    def __init__(self, chaos: Chaos) -> None:
        super().__init__(Pace(2, 0))
        self._chaos = chaos

    def stream_chat(self, upstream, request):
        for i, chunk in enumerate(super().stream_chat(upstream, request)):
            if i == 4:
                if self._chaos.roll(0.05, "provider 5xx midway"):
                    raise ProviderError("provider_error", "503", retryable=True)
                if self._chaos.roll(0.03, "runner killed while streaming"):
                    raise Crash("stream")
            yield chunk


@pytest.fixture
def emulated(aws, monkeypatch):
    monkeypatch.setenv("ASYNCINFER_RUNNER_FUNCTION_ARN", RUNNER_ARN)
    monkeypatch.setenv("ASYNCINFER_DEMO_RESEARCH_TOOL_SECONDS", "0")
    monkeypatch.setenv("ASYNCINFER_ORPHAN_AFTER_SECONDS", "5")
    monkeypatch.setenv("ASYNCINFER_SUBMITS_PER_WINDOW", "0")
    monkeypatch.setenv("ASYNCINFER_MAX_INFLIGHT_TASKS", "0")
    # A dead invocation is invoked again soon (5 s in the testing SDK, seconds on AWS too).
    monkeypatch.setattr(Executor, "RETRY_BACKOFF_SECONDS", 0.2)
    return aws


@pytest.mark.timeout(QUIESCENCE_SECONDS + 120)
def test_long_tasks_lose_nothing_and_say_nothing_twice_under_faults(emulated):
    aws = emulated
    rng = random.Random(SEED)
    chaos = Chaos(rng)
    # moto's in-process backend is not thread-safe: one runner invocation, or one step of this loop, at a time.
    moto = threading.RLock()

    def invoke(event: dict) -> dict:
        with moto:
            if chaos.roll(0.03, "runner killed before it starts"):
                raise Crash("start")
            return aws.functions.invoke("runner", event)

    with DurableRuntime(invoke) as durable:
        service = wiring.task_service(ApiSettings())
        with moto:
            reference = service.submit_chat("calm", BODY)
            aws.run_worker()
        calm = wait_ended(aws, durable, "calm", reference.id, moto)
        assert calm.status == TaskStatus.COMPLETED

        long_runner = runner.runtime()
        long_runner.worker.store = Wrapped(
            long_runner.worker.store, chaos, ("get", "transition", "append_events", "read_events")
        )
        long_runner.worker.blobs = Wrapped(long_runner.worker.blobs, chaos, ("put", "get"))
        long_runner.worker.provider_for = lambda spec: FlakyResearch(chaos)
        real_send = service.queue.send

        def duplicating_send(message):
            real_send(message)
            if chaos.roll(0.2, "duplicate dispatch message"):
                real_send(message)

        service.queue.send = duplicating_send
        sweeper = Sweeper(aws.store, service.queue, after_ms=5000, executions=durable.executions())

        tenant, ids, cancelled = "chaos", [], set()
        started = time.monotonic()
        while True:
            assert time.monotonic() - started < QUIESCENCE_SECONDS, "no quiescence"
            with moto:
                if len(ids) < TASKS:
                    ids.append(service.submit_chat(tenant, BODY, Submission(idempotency_key=f"k{len(ids)}")).id)
                if ids and rng.random() < 0.05:
                    victim = rng.choice(ids)
                    if service.cancel(tenant, victim).status == TaskStatus.CANCELLED:
                        cancelled.add(victim)
                aws.run_worker(max_batches=2)
                if rng.random() < 0.1:
                    sweeper.sweep()
                tasks = [aws.store.get(tenant, task_id) for task_id in ids]
            if len(ids) == TASKS and all(t.status in TERMINAL for t in tasks):
                break
            time.sleep(0.05)

        client = durable.client()
        for task in tasks:
            if task.execution_arn:  # ended tasks' executions end too: none is left running or waiting
                wait_until(
                    lambda t=task: client.get_durable_execution(DurableExecutionArn=t.execution_arn)["Status"] in ENDED
                )

    statuses = Counter(t.status.value for t in tasks)
    print(
        f"\n{TASKS} long tasks, seed {SEED}, quiet after {time.monotonic() - started:.0f} s: {dict(statuses)}; "
        f"errors {dict(Counter(t.error.code for t in tasks if t.error))}"
    )
    print("faults injected:", dict(sorted(chaos.counts.items())))
    reference_events = aws.store.read_events("calm", reference.id)
    reference_text = spoken(reference_events)
    for task in tasks:
        if task.id in cancelled:
            assert task.status == TaskStatus.CANCELLED, f"{task.id} was cancelled, then became {task.status}"
        if task.status == TaskStatus.FAILED:
            assert task.error is not None and task.error.code
        if task.status != TaskStatus.COMPLETED:
            continue
        assert service.result(task)["choices"] == service.result(calm)["choices"]
        assert task.usage == calm.usage, "usage counted once per turn"
        events = aws.store.read_events(tenant, task.id)
        seqs = [e["seq"] for e in events]
        assert seqs == sorted(set(seqs)), "each event once, in order"
        assert spoken(events) == reference_text, "nothing said twice, nothing missing"
        assert [e["type"] for e in events].count("tool_result") == 2
    assert statuses["COMPLETED"] > TASKS // 2, "the faults should not stop most tasks from completing"
    assert sum(chaos.counts.values()) > TASKS // 2, "faults were injected"


def spoken(events: list[dict]) -> str:
    return "".join(e["text"] for e in events if e["type"] == "delta")


def wait_until(condition, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline
        time.sleep(0.05)


def wait_ended(aws, durable, tenant: str, task_id: str, lock) -> object:
    def ended():
        with lock:
            task = aws.store.get(tenant, task_id)
        return task if task.status in TERMINAL else None

    deadline = time.monotonic() + 60
    while (task := ended()) is None:
        assert time.monotonic() < deadline
        with contextlib.suppress(Exception):
            time.sleep(0.05)
    return task
