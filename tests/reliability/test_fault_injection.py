"""Fault injection through the real handlers on the emulator: worker crashes at every step of the worker
protocol, throttled DynamoDB/S3 calls (before and after they took effect), provider 5xx/429/timeouts,
duplicate deliveries, lost enqueue answers, submits dying between the task write and SendMessage
(the sweeper re-sends those), and cancels at random moments. Some tasks have a start deadline they may
miss in the backlog, and some answer slowly under an execution deadline they always miss. After quiescence
every task must be in exactly one terminal state, none lost, none COMPLETED after a CANCELLED, every
result equal to the provider's output, every FAILED with an error, attempts within the limit, no task
started after its start deadline nor completed after its end deadline, and every slow one stopped.

`RELIABILITY_TASKS` sets the size (200 here; `make reliability` runs 1,000); `RELIABILITY_SEED` the seed."""

from __future__ import annotations

import contextlib
import contextvars
import json
import os
import random
import time
import uuid
from collections import Counter
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from asyncinfer import wiring
from asyncinfer.config import ApiSettings
from asyncinfer.domain.budgets import day_of, money
from asyncinfer.domain.errors import ServiceUnavailable
from asyncinfer.domain.model import TERMINAL, TaskStatus, now_ms
from asyncinfer.domain.submission import Submission
from asyncinfer.handlers import worker
from asyncinfer.observability import logger
from asyncinfer.providers.base import ProviderError
from asyncinfer.providers.demo.chat import DemoChatProvider, demo_answer
from asyncinfer.tasks.sweeper import Sweeper
from infra.local.emulator import provision
from infra.local.functions import LocalFunctions
from infra.local.poller import Poller
from tests.support.completions import CountsCompletions

pytestmark = pytest.mark.integration

TASKS = int(os.environ.get("RELIABILITY_TASKS", "200"))
PRICED = Path(__file__).resolve().parents[2] / "functions" / "asyncinfer" / "models.priced.json"
# About 0.2 s a task on an idle machine and 0.44 s beside other test suites (each one's faults, retries and
# backoff included; 1,000 tasks in 439 s): the run must settle within 1 s a task, whatever its size. A hang
# never settles, so the budget only has to be finite and grow with the work.
QUIESCENCE_SECONDS = 120 + TASKS
SEED = int(os.environ.get("RELIABILITY_SEED", "20261122"))
MAX_ATTEMPTS = 4
LEASE_SECONDS = 1.0  # the worker "function" timeout: a crashed claim expires this soon
VISIBILITY = 2  # longer than the function timeout, as on AWS (6x there)
MAX_RECEIVES = 6
# Seconds a task may sit CREATED before the sweeper re-sends its message. The run keeps a backlog (one
# message per poll), so a shorter time mostly re-sends messages that are only waiting their turn.
SWEEP_AFTER = 10.0


class Crash(BaseException):
    """The worker process dies here: no cleanup, no ack."""


# The worker invocation a call belongs to (its tasks' threads copy it): once one of its calls crashed, the
# instance is dead, and every other task it held dies at its next call, as in a killed process.
INVOCATION: contextvars.ContextVar[int] = contextvars.ContextVar("invocation", default=0)
DEAD: set[int] = set()


def crash(where: str) -> Crash:
    if INVOCATION.get():  # 0: a call outside any numbered worker invocation (the runner's), whose death ends here
        DEAD.add(INVOCATION.get())
    return Crash(where)


def dead_check() -> None:
    if INVOCATION.get() and INVOCATION.get() in DEAD:
        raise Crash("the instance died")


class Chaos:
    def __init__(self, rng: random.Random, crash_share: float = 1.0) -> None:
        self.rng = rng
        self.counts: Counter[str] = Counter()
        # An instance running N tasks dies when any of them crashes: a task's calls crash 1/N as often, so
        # instances die about as often as with one task each (and every task still dies with its instance).
        self.crash_share = crash_share

    def roll(self, p: float, what: str) -> bool:
        hit = self.rng.random() < p
        if hit:
            self.counts[what] += 1
        return hit

    def around(self, name: str, call):
        """A store or blob call that may crash or be throttled, before it takes effect or after."""

        def wrapped(*args, **kwargs):
            dead_check()
            if self.roll(0.02 * self.crash_share, f"crash before {name}"):
                raise crash(name)
            if self.roll(0.02, f"throttle before {name}"):
                raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "slow down"}}, name)
            result = call(*args, **kwargs)
            if self.roll(0.01 * self.crash_share, f"crash after {name}"):
                raise crash(name)
            if self.roll(0.01, f"throttle after {name}"):  # it happened, but the answer was lost
                raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "lost"}}, name)
            return result

        return wrapped


class Wrapped:
    def __init__(self, inner, chaos: Chaos, methods: tuple[str, ...]) -> None:
        self._inner = inner
        for method in methods:
            setattr(self, method, chaos.around(method, getattr(inner, method)))

    def __getattr__(self, name):
        return getattr(self._inner, name)


# A prompt with this answers slowly (about 2 s), far past its task's execution deadline.
SLOW = "[slow]"
SLOW_DEADLINE_SECONDS = 0.3


class FlakyProvider:
    def __init__(self, chaos: Chaos) -> None:
        self._chaos = chaos
        self._demo = DemoChatProvider(seconds=0)

    def stream_chat(self, upstream, request):
        slow = SLOW in request.last_user_text()
        for i, chunk in enumerate(self._demo.stream_chat(upstream, request)):
            dead_check()
            if slow:
                time.sleep(0.02)
            if i == 3:
                if self._chaos.roll(0.05, "provider 429"):
                    raise ProviderError("provider_throttled", "429", retryable=True)
                if self._chaos.roll(0.03, "provider 5xx"):
                    raise ProviderError("provider_error", "503", retryable=True)
                if self._chaos.roll(0.03, "provider timeout"):
                    raise ProviderError("provider_timeout", "timed out", retryable=True)
                if self._chaos.roll(0.02 * self._chaos.crash_share, "crash while streaming"):
                    raise crash("stream")
            yield chunk


@pytest.fixture
def emulated(monkeypatch):
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    env = {
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "POWERTOOLS_METRICS_DISABLED": "true",
        "POWERTOOLS_LOG_LEVEL": "CRITICAL",
        "ASYNCINFER_FLUSH_SECONDS": "0.001",
        "ASYNCINFER_MAX_ATTEMPTS": str(MAX_ATTEMPTS),
        "ASYNCINFER_DEADLINE_MARGIN_SECONDS": "0",
        "ASYNCINFER_RETRY_BASE_SECONDS": "0.5",
        "ASYNCINFER_RETRY_MAX_SECONDS": "1",
        # Invocations receive more messages themselves as their slots free (ASYNCINFER_CONCURRENCY, per test).
        "ASYNCINFER_REFILL_WAIT_SECONDS": "0",
        "ASYNCINFER_SUBMITS_PER_WINDOW": "0",  # the run submits faster than a tenant's default quota
        "ASYNCINFER_MAX_INFLIGHT_TASKS": "0",
        # Priced: every submit reserves, every end settles, every charge costs something.
        "ASYNCINFER_MODELS_FILE": str(PRICED),
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    level = logger.log_level
    logger.setLevel("CRITICAL")  # thousands of expected, injected errors
    with mock_aws():
        sqs = boto3.client("sqs")
        resources = provision(boto3.client, "chaos")
        for name, value in resources.env().items():
            monkeypatch.setenv(name, value)
        sqs.set_queue_attributes(
            QueueUrl=resources.queue_url,
            Attributes={
                "VisibilityTimeout": str(VISIBILITY),
                "RedrivePolicy": json.dumps(
                    {"deadLetterTargetArn": resources.dlq_arn, "maxReceiveCount": str(MAX_RECEIVES)}
                ),
            },
        )
        wiring.reset()
        yield resources, sqs
        wiring.reset()
    logger.setLevel(level)


def depth(sqs, url) -> int:
    attrs = sqs.get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return int(attrs["ApproximateNumberOfMessages"]) + int(attrs["ApproximateNumberOfMessagesNotVisible"])


def chaotic_lanes(monkeypatch, chaos: Chaos) -> Counter[str]:
    """An instance may die right after it received more messages, or before it deleted those it ran."""
    from asyncinfer.queue.refill import SqsLane

    receive, delete = SqsLane.receive, SqsLane.delete
    seen: Counter[str] = Counter()

    def receiving(self, most, wait_seconds):
        got = receive(self, most, wait_seconds)
        seen["received by instances"] += len(got)
        if got and chaos.roll(0.02, "crash after receiving more"):
            raise crash("ReceiveMessage")
        return got

    def deleting(self, handles):
        if chaos.roll(0.02, "crash before deleting received"):
            raise crash("DeleteMessageBatch")
        delete(self, handles)

    monkeypatch.setattr(SqsLane, "receive", receiving)
    monkeypatch.setattr(SqsLane, "delete", deleting)
    return seen


# 1: an invocation runs one task at a time, receiving the next itself when it ends. 4: an instance holds
# several tasks, and a crash kills them all mid-stream.
@pytest.mark.parametrize("slots", [1, 4])
@pytest.mark.timeout(QUIESCENCE_SECONDS + 120)
def test_nothing_is_lost_under_faults(emulated, monkeypatch, slots):
    resources, sqs = emulated
    monkeypatch.setenv("ASYNCINFER_CONCURRENCY", str(slots))
    # One message per event: what else an invocation runs, it received itself.
    monkeypatch.setattr("infra.local.poller.BATCH_SIZE", 1)
    refills = chaotic_lanes(monkeypatch, chaos := Chaos(random.Random(SEED + slots), crash_share=1 / slots))
    rng = chaos.rng
    service = wiring.task_service(ApiSettings())
    real_send = service.queue.send

    def flaky_send(message):
        if chaos.roll(0.03, "submit crash before enqueue"):  # the task is written, its message never sent
            raise Crash("SendMessage")
        if chaos.roll(0.02, "enqueue refused"):
            raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "sqs"}}, "SendMessage")
        real_send(message)
        if chaos.roll(0.03, "duplicate delivery"):
            real_send(message)
        if chaos.roll(0.01, "enqueue answer lost"):  # sent, but the API saw an error and withdrew the task
            raise ClientError({"Error": {"Code": "InternalError", "Message": "lost"}}, "SendMessage")

    service.queue.send = flaky_send
    # The emulator answers in this process, so an instance's tasks share one CPU: N of them take about N times
    # as long each as one would, which on AWS (network waits) they would not. The function's timeout (the
    # lease) and the visibility timeout grow with the slots, or a busy machine would let leases lapse under
    # running tasks and their messages be received again and again until dead-lettered.
    functions = LocalFunctions(timeouts={"worker": LEASE_SECONDS * slots, "dead_letter": 30})
    sqs.set_queue_attributes(QueueUrl=resources.queue_url, Attributes={"VisibilityTimeout": str(VISIBILITY * slots)})
    w, _ = worker.runtime()
    counted = CountsCompletions(w.store)
    w.store = Wrapped(counted, chaos, ("get", "transition", "append_events"))
    w.blobs = Wrapped(w.blobs, chaos, ("put",))
    w.provider_for = lambda spec: FlakyProvider(chaos)
    tasks_poller = Poller(sqs, resources.queue_url, resources.queue_arn, functions, "worker")
    dlq_poller = Poller(sqs, resources.dlq_url, resources.dlq_arn, functions, "dead_letter")

    tenant = "chaos"
    prompts: dict[str, str] = {}
    cancelled: set[str] = set()

    def submit(i: int) -> None:
        kind = rng.random()
        prompt = f"Task {i}{SLOW if kind > 0.9 else ''}: {uuid.UUID(int=rng.getrandbits(128))}"
        key = f"k-{i}"
        body = {"model": "demo-chat", "messages": [{"role": "user", "content": prompt}]}
        if kind < 0.15:  # a start deadline the backlog may or may not let it keep
            body["start_timeout"] = round(rng.uniform(0.2, 3.0), 2)
        elif kind > 0.9:
            body["execution_timeout"] = SLOW_DEADLINE_SECONDS
        for _ in range(20):  # a client retrying with its idempotency key until the service takes it
            try:
                task = service.submit_chat(tenant, body, Submission(idempotency_key=key))
            except (ServiceUnavailable, Crash):  # a 503, or a 502 from a function that died
                continue
            prompts[task.id] = prompt
            return
        raise AssertionError("submit never went through")

    invocations = iter(range(1, 10**9))

    def poll(poller: Poller) -> None:
        token = INVOCATION.set(next(invocations))
        try:
            with contextlib.suppress(Crash):  # the invocation died: its messages come back after the visibility timeout
                poller.poll_once()
        finally:
            INVOCATION.reset(token)

    store = wiring.task_store(resources.table_name)
    sweeper = Sweeper(store, service.queue, after_ms=int(SWEEP_AFTER * 1000))
    swept_at = 0.0
    requeued = 0

    submitted = 0
    started, started_wall = time.monotonic(), time.time()
    deadline = started + QUIESCENCE_SECONDS
    while True:
        assert time.monotonic() < deadline, "no quiescence"
        for _ in range(rng.randint(0, 8)):
            if submitted < TASKS:
                submit(submitted)
                submitted += 1
        if prompts and rng.random() < 0.15:
            victim = rng.choice(sorted(prompts))
            if service.cancel(tenant, victim).status == TaskStatus.CANCELLED:
                cancelled.add(victim)
        poll(tasks_poller)
        poll(dlq_poller)
        if time.monotonic() - swept_at > SWEEP_AFTER / 2:
            with contextlib.suppress(ClientError, Crash):  # this run failed; the next one retries
                requeued += sweeper.sweep().requeued
            swept_at = time.monotonic()
        if (
            submitted == TASKS
            and depth(sqs, resources.queue_url) == 0
            and depth(sqs, resources.dlq_url) == 0
            and store.count_inflight(tenant, 1) == 0
        ):
            break
        if submitted == TASKS:
            time.sleep(0.05)  # what is left is in flight: visibility or backoff brings it back

    final = {task_id: store.get(tenant, task_id) for task_id in prompts}
    statuses = Counter(t.status.value for t in final.values())
    # One more look at the deadlines due: every task has ended, so none fails now, and each is forgotten.
    assert sweeper.sweep_deadlines() == 0
    dues = boto3.client("dynamodb").query(
        TableName=resources.table_name,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": "_due"}},
    )["Items"]
    errors = Counter(t.error.code for t in final.values() if t.error)
    print(
        f"\n{TASKS} tasks, seed {SEED}, quiet after {time.monotonic() - started:.0f} s: {dict(statuses)}; "
        f"errors {dict(errors)}"
    )
    print("faults injected:", dict(sorted(chaos.counts.items())), f"; re-sent by the sweeper: {requeued}")
    print(f"{slots} slots: {refills['received by instances']} messages received by the instances themselves")
    assert refills["received by instances"] > TASKS // 10, "the invocations received more messages themselves"

    assert len(final) == TASKS
    for task_id, task in final.items():
        assert task is not None, f"{task_id} lost"
        assert task.status in TERMINAL, f"{task_id} stuck in {task.status}"
        assert task.attempt <= MAX_ATTEMPTS
        if task_id in cancelled:
            assert task.status == TaskStatus.CANCELLED, f"{task_id} was cancelled, then became {task.status}"
        # Completed once, whatever crashed, was received twice or ran on in a dead instance's thread.
        assert counted.completed[task_id] == (task.status == TaskStatus.COMPLETED), (
            task_id,
            counted.completed[task_id],
        )
        if task.status == TaskStatus.COMPLETED:
            result = service.result(task)
            assert result["choices"][0]["message"]["content"] == demo_answer("demo-chat", prompts[task_id])
            assert task.completed_at and not task.error
        if task.status == TaskStatus.FAILED:
            assert task.error is not None and task.error.code
        # Deadlines: never started after its start deadline, never completed after its end deadline.
        if task.start_by is not None and task.started_at is not None:
            assert task.started_at < task.start_by, f"{task_id} started after its start deadline"
        if task.error is not None and task.error.code == "start_timeout":
            assert task.start_by is not None and task.started_at is None and task.attempt == 0
            assert store.read_events(tenant, task_id) == [], f"{task_id} missed its start yet ran"
        if task.error is not None and task.error.code == "deadline_exceeded":
            assert task.finish_by is not None and task.failed_at >= task.finish_by
        if SLOW in prompts[task_id]:
            assert task.status != TaskStatus.COMPLETED, f"{task_id} ran past its execution deadline"
        if task.status == TaskStatus.COMPLETED and task.finish_by is not None:
            assert task.completed_at <= task.finish_by + 1000
    # Nothing else was created: one task per submit, whatever was retried or duplicated.
    listed = store.list(tenant, limit=100, after=None, status=None)
    count = len(listed.tasks)
    while listed.next_cursor:
        listed = store.list(tenant, limit=100, after=listed.next_cursor, status=None)
        count += len(listed.tasks)
    assert count == TASKS
    # Every ended task has left the in-flight index: the tenant's in-flight quota is not leaking.
    assert store.count_inflight(tenant, TASKS) == 0
    assert statuses["COMPLETED"] > TASKS // 2, "the faults should not stop most tasks from completing"
    # Each charged task (completed, or stopped after output) counted once in the tenant's usage, whatever
    # crashed around its end; GET /v1/usage's figures are exactly the sum of the tasks' own costs.
    first_day, last_day = day_of(int(started_wall * 1000)), day_of(now_ms())
    lines = store.usage_lines(tenant, first_day, last_day)
    charged = [t for t in final.values() if t.usage is not None]
    completed = [t for t in final.values() if t.status == TaskStatus.COMPLETED]
    assert all(t.usage is not None for t in completed)
    assert sum(line.tasks for line in lines) == len(charged)
    assert sum(line.total_tokens for line in lines) == sum(t.usage.total_tokens for t in charged)
    assert sum(line.cost for line in lines) == sum(money(t.usage.cost.total_cost) for t in charged) > 0
    # and every reservation was settled or given back: nothing is left reserved once all has ended.
    for day in {first_day, last_day}:
        assert [f.reserved_e8 for f in store.ledger(tenant, day).values()] == [0, 0]
    stopped = [t for t in charged if t.status != TaskStatus.COMPLETED]
    print(f"charged: {len(completed)} completed, {len(stopped)} stopped after output")
    # Both kinds of deadline were missed in the run, and each one's ending is as above.
    assert errors["start_timeout"] > 0 and errors["deadline_exceeded"] > 0, errors
    # The sweeper forgets each deadline once seen to: nothing is left to watch but deadlines not yet due.
    assert all(int(item["sk"]["S"].split("#")[0]) > now_ms() for item in dues)
    assert sum(chaos.counts.values()) > TASKS // 5, "faults were injected"
