"""The pieces of row k's simulation: a model that streams at its prompt's pace, the padding of each AWS call to
in-region latency, one worker instance (a spawned process running the real handler) and the SQS event source
mapping that invokes the instances."""

from __future__ import annotations

import hashlib
import json
import math
import os
import random
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from infra.config import WORKER_MEMORY_MB, InfraConfig

ROOT = Path(__file__).resolve().parent.parent
DEPLOYED = InfraConfig.from_context(json.loads((ROOT / "cdk.json").read_text())["context"]["asyncinfer"])


def pace(prompt: str, smoke: bool) -> tuple[float, float, int]:
    """(seconds to the first token, tokens per second, tokens): the same for the same prompt, from its hash."""
    rng = random.Random(hashlib.sha256(prompt.encode()).digest())
    first, tokens = ((0.1, 0.4), (10, 60)) if smoke else ((0.5, 2.0), (100, 1500))
    return rng.uniform(*first), rng.uniform(30, 80), rng.randint(*tokens)


class PacedProvider:
    """A chat model at its prompt's pace, one token per delta, on an absolute schedule (a late thread
    catches up rather than stretching the stream). Reports each stream's first request and last token."""

    def __init__(self, streams: Streams, smoke: bool) -> None:
        self._streams = streams
        self._smoke = smoke

    def stream_chat(self, upstream_model: str, request) -> Iterator:
        from asyncinfer.domain.model import Usage
        from asyncinfer.providers.base import Finished, TextDelta

        prompt = request.messages[-1].text()
        first, per_second, tokens = pace(prompt, self._smoke)
        started = self._streams.begin()
        try:
            for i in range(tokens):
                if (wait := started + first + i / per_second - time.monotonic()) > 0:
                    time.sleep(wait)
                if i == tokens - 1:
                    self._streams.last_token(prompt, started)
                yield TextDelta(f"t{i} ")
            yield Finished("stop", Usage(prompt_tokens=8, completion_tokens=tokens, total_tokens=tokens + 8))
        finally:
            self._streams.end()


@dataclass
class Streams:
    """The streams open in one instance (its peak) and the times the parent's reader needs, sent live."""

    events: Any  # a multiprocessing queue to the parent
    open: int = 0
    peak: int = 0
    started: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def begin(self) -> float:
        with self._lock:
            self.open += 1
            self.started += 1
            self.peak = max(self.peak, self.open)
        return time.monotonic()

    def last_token(self, prompt: str, started: float) -> None:
        self.events.put((prompt, started, time.monotonic()))

    def end(self) -> None:
        with self._lock:
            self.open -= 1


@dataclass
class Padding:
    """Each AWS call's round trip padded to a typical in-region latency when the emulator answered sooner
    (a botocore hook, so streams in one invocation wait side by side as on AWS). Calls the emulator answered
    more slowly are counted (long polls aside): they make the billed figure an upper bound."""

    latency: dict[str, float]
    calls: int = 0
    slower: int = 0
    slower_seconds: float = 0.0
    _local: threading.local = field(default_factory=threading.local)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def install(self, events: Any) -> None:
        events.register("before-parameter-build.sqs.ReceiveMessage", self._receive)
        events.register("before-send", self._sent)
        events.register("before-parse", self._answered)

    def _receive(self, params: dict[str, Any], **_: Any) -> None:
        self._local.waits = bool(params.get("WaitTimeSeconds"))

    def _sent(self, **_: Any) -> None:
        self._local.sent = time.perf_counter()

    def _answered(self, event_name: str, **_: Any) -> None:
        took = time.perf_counter() - getattr(self._local, "sent", time.perf_counter())
        typical = self.latency.get(event_name.split(".")[1], 0.010)
        waits, self._local.waits = getattr(self._local, "waits", False), False
        if took < typical:
            time.sleep(typical - took)
        elif not waits:
            with self._lock:
                self.slower += 1
                self.slower_seconds += took - typical
        with self._lock:
            self.calls += 1


def instance(conn: Any, events: Any, env: dict[str, str], latency: dict[str, float], smoke: bool) -> None:
    """One worker instance (a spawned process): invokes the real handler with each event the parent's
    event source sends, timing each invocation; at the end, its padding and memory figures."""
    os.environ.update(env)
    import boto3

    padding = Padding(latency)
    padding.install(boto3._get_default_session().events)  # before any client: clients copy the hooks
    from asyncinfer.handlers import worker
    from infra.local.functions import LocalContext, LocalFunctions

    handler = LocalFunctions().handler("worker")
    made = worker.runtime()
    streams = Streams(events)
    (made[0] if isinstance(made, tuple) else made).provider_for = lambda spec: PacedProvider(streams, smoke)
    before_mb = status_mb("VmRSS")
    conn.send("ready")
    while (event := conn.recv()) is not None:
        opened, started = streams.started, time.perf_counter()
        context = LocalContext("asyncinfer-worker", DEPLOYED.worker_timeout_seconds, WORKER_MEMORY_MB)
        result = handler(event, context)
        conn.send((result, time.perf_counter() - started, streams.started - opened))
    peak_mb = status_mb("VmHWM")
    counts = {"calls": padding.calls, "slower": padding.slower, "slower_seconds": padding.slower_seconds}
    conn.send({"before_mb": before_mb, "peak_mb": peak_mb, "peak_streams": streams.peak, **counts})


def status_mb(field: str) -> float:
    """This process's VmRSS (now) or VmHWM (its peak), in MB. Not getrusage's ru_maxrss: Linux keeps that across
    the exec of a spawned process, so a child reports at least its parent's resident size when it forked (the
    bench's parent grows to ~900 MB over the rows before this one)."""
    status = Path("/proc/self/status").read_text()
    return int(status.split(f"{field}:")[1].split()[0]) / 1024


class EventSource:
    """Lambda's SQS event source mapping for one lane queue, at most `len(instances)` invocations at once:
    a long poll of up to a batch, held open for the batching window, an invocation, and the deletion of
    what the handler did not report failed. Each invocation is billed its wall time rounded up to 1 ms."""

    def __init__(self, sqs: Any, url: str, arn: str, instances: list[Any]) -> None:
        self._sqs, self._url, self._arn = sqs, url, arn
        self.stop = threading.Event()
        self.invocations: list[tuple[int, float, int]] = []  # (messages, seconds, streams opened)
        self.failures = 0
        self.error: BaseException | None = None
        self._lock = threading.Lock()
        self.threads = [threading.Thread(target=self._loop, args=(c,), daemon=True) for c in instances]

    def _receive(self) -> list[dict]:
        batch, window = DEPLOYED.worker_batch_size, DEPLOYED.worker_batching_window_seconds
        messages = self._sqs.receive_message(
            QueueUrl=self._url, MaxNumberOfMessages=batch, WaitTimeSeconds=1, MessageSystemAttributeNames=["All"]
        ).get("Messages", [])
        closes = time.monotonic() + window
        while messages and len(messages) < batch and (left := closes - time.monotonic()) > 0:
            messages += self._sqs.receive_message(
                QueueUrl=self._url,
                MaxNumberOfMessages=batch - len(messages),
                WaitTimeSeconds=max(1, min(20, math.ceil(left))),
                MessageSystemAttributeNames=["All"],
            ).get("Messages", [])
        return messages

    def _loop(self, conn: Any) -> None:
        try:
            while not self.stop.is_set():
                self._invoke(conn)
        except BaseException as exc:  # an instance died: the reader stops on it
            self.error = exc

    def _invoke(self, conn: Any) -> None:
        from infra.local.poller import sqs_event

        messages = self._receive()
        if not messages:
            return
        conn.send(sqs_event(messages, self._arn))
        result, seconds, opened = conn.recv()
        failed = {item["itemIdentifier"] for item in (result or {}).get("batchItemFailures", [])}
        if done := [m for m in messages if m["MessageId"] not in failed]:
            self._sqs.delete_message_batch(
                QueueUrl=self._url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)],
            )
        with self._lock:
            self.invocations.append((len(messages), seconds, opened))
            self.failures += len(failed)
