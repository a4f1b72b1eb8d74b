"""(k) Worker density at deployed settings: chat tasks whose model streams at a realistic, varied pace,
delivered by a simulated SQS event source mapping to the real worker handler, each concurrent instance a
process of its own. Billed GB-s per model-second, peak memory per concurrent stream, and how long after a
task's last token its COMPLETED record can be read."""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import queue
import random
import resource
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from infra.config import WORKER_MEMORY_MB, InfraConfig

ROOT = Path(__file__).resolve().parent.parent
DEPLOYED = InfraConfig.from_context(json.loads((ROOT / "cdk.json").read_text())["context"]["asyncinfer"])
# The streams one worker invocation runs at once, as the infra deploys them (infra/components/workers.py): its
# slots setting where it has one, else ASYNCINFER_CONCURRENCY = the batch size. Set a number here to try another.
WORKER_SLOTS = getattr(DEPLOYED, "worker_slots", DEPLOYED.worker_batch_size)
# C: the most invocations the simulated event source mapping runs at once (its instances).
INSTANCES = 2
READ_EVERY_SECONDS = 0.1
TARGET_GB_S = 0.05
TARGET_MEMORY_SHARE = 0.8
TARGET_READ_P95_SECONDS = 1.0

if TYPE_CHECKING:
    from bench.common import Row


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
    before_mb = _rss_mb()
    conn.send("ready")
    while (event := conn.recv()) is not None:
        opened, started = streams.started, time.perf_counter()
        context = LocalContext("asyncinfer-worker", DEPLOYED.worker_timeout_seconds, WORKER_MEMORY_MB)
        result = handler(event, context)
        conn.send((result, time.perf_counter() - started, streams.started - opened))
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    counts = {"calls": padding.calls, "slower": padding.slower, "slower_seconds": padding.slower_seconds}
    conn.send({"before_mb": before_mb, "peak_mb": peak_mb, "peak_streams": streams.peak, **counts})


def _rss_mb() -> float:
    status = Path("/proc/self/status").read_text()
    return int(status.split("VmRSS:")[1].split()[0]) / 1024


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


def run(tasks: int | None = None) -> Row:
    import multiprocessing

    from asyncinfer import wiring
    from asyncinfer.config import ApiSettings
    from bench.common import SMOKE, Row, percentile
    from bench.cost import AWS_LATENCY_SECONDS
    from infra.local.emulator import EmulatorProcess

    tasks = tasks or (20 if SMOKE else 200)
    spawn = multiprocessing.get_context("spawn")
    (emulator := EmulatorProcess()).start()
    saved = dict(os.environ)
    children: list[tuple[Any, Any]] = []
    try:
        resources = emulator.create_resources("bench-density")
        env = {
            **resources.env(),
            **DEPLOYED.lane_slots_environment(),
            "POWERTOOLS_METRICS_DISABLED": "true",
            "POWERTOOLS_LOG_LEVEL": "ERROR",
            "ASYNCINFER_WORKER_SLOTS": str(WORKER_SLOTS),
            "ASYNCINFER_CONCURRENCY": str(WORKER_SLOTS),  # the pool's threads: one invocation per process
        }
        os.environ.update(env, ASYNCINFER_SUBMITS_PER_WINDOW="0", ASYNCINFER_MAX_INFLIGHT_TASKS="0")
        events = spawn.Queue()
        for _ in range(INSTANCES):
            mine, theirs = spawn.Pipe()
            process = spawn.Process(target=instance, args=(theirs, events, env, AWS_LATENCY_SECONDS, SMOKE))
            process.start()
            children.append((process, mine))
        wiring.reset()
        store = (service := wiring.task_service(ApiSettings())).store
        ids = {}
        for prompt in (f"density task {i}" for i in range(tasks)):
            body = {"model": "demo-chat", "messages": [{"role": "user", "content": prompt}]}
            ids[prompt] = service.submit_chat("bench", body).id
        assert all(conn.recv() == "ready" for _, conn in children)
        source = EventSource(emulator.client("sqs"), resources.queue_url, resources.queue_arn, [c for _, c in children])
        started = time.monotonic()
        for thread in source.threads:
            thread.start()
        model_seconds, delays = _read_completions(store, ids, events, source, 90 if SMOKE else 1200)
        wall = time.monotonic() - started
        source.stop.set()
        for thread in source.threads:
            thread.join(600)
        figures = []
        for process, conn in children:
            conn.send(None)
            figures.append(conn.recv())
            process.join(30)
    finally:
        for process, _ in children:
            if process.is_alive():
                process.kill()
        os.environ.clear()
        os.environ.update(saved)
        wiring.reset()
        emulator.stop()

    memory_gb = WORKER_MEMORY_MB / 1024
    billed_seconds = sum(math.ceil(seconds * 1000) / 1000 for _, seconds, _ in source.invocations)
    per_model_second = billed_seconds * memory_gb / model_seconds
    peak_mb = max(f["peak_mb"] for f in figures)
    per_stream_mb = max((f["peak_mb"] - f["before_mb"]) / max(1, f["peak_streams"]) for f in figures)
    calls, slower = sum(f["calls"] for f in figures), sum(f["slower"] for f in figures)
    p95 = percentile(delays, 95)
    count, streams = len(source.invocations), [opened for _, _, opened in source.invocations]
    met = per_model_second <= TARGET_GB_S and peak_mb < TARGET_MEMORY_SHARE * WORKER_MEMORY_MB
    latency = ", ".join(f"{name} {seconds * 1000:.0f} ms" for name, seconds in AWS_LATENCY_SECONDS.items())
    return Row(
        "k. density at deployed settings",
        f"{per_model_second:.3f} GB-s per model-second; peak {per_stream_mb:.1f} MB per stream; "
        f"COMPLETED read p95 {p95:.2f} s after last token",
        f"<= {TARGET_GB_S} GB-s per model-second, peak < {TARGET_MEMORY_SHARE:.0%} of memory, "
        f"p95 <= {TARGET_READ_P95_SECONDS:.0f} s",
        met and p95 <= TARGET_READ_P95_SECONDS,
        [
            f"{tasks} chat tasks (first token {'0.1-0.4' if SMOKE else '0.5-2'} s, 30-80 tokens/s, "
            f"{'10-60' if SMOKE else '100-1,500'} tokens, from each prompt's hash), a backlog queued before the "
            f"event source starts: {model_seconds:.0f} model-seconds (first request to last token) in {wall:.0f} s",
            f"event source: at most {INSTANCES} invocations at once (bench parameter C), batch "
            f"{DEPLOYED.worker_batch_size}, window {DEPLOYED.worker_batching_window_seconds} s; worker "
            f"{WORKER_MEMORY_MB} MB, {WORKER_SLOTS} slots (ASYNCINFER_WORKER_SLOTS, _CONCURRENCY), "
            f"timeout {DEPLOYED.worker_timeout_seconds} s; each instance a warm process, the emulator another",
            f"{count} invocations billed {billed_seconds:.1f} s ({billed_seconds * memory_gb:.1f} GB-s) for "
            f"{model_seconds:.0f} model-seconds; streams per invocation mean {sum(streams) / count:.1f}, "
            f"max {max(streams)}; {source.failures} messages reported failed",
            f"each AWS call padded to in-region latency ({latency}) when the emulator answered sooner; "
            f"{slower} of {calls} calls ({slower / max(1, calls):.1%}) were slower on the emulator, by "
            f"{sum(f['slower_seconds'] for f in figures):.1f} s in all: the GB-s figure is an upper bound",
            f"memory: peak RSS {peak_mb:.0f} MB of {WORKER_MEMORY_MB} MB ({peak_mb / WORKER_MEMORY_MB:.0%}); per "
            f"stream = (peak RSS - RSS before the run) / peak concurrent streams of an instance "
            f"({max(f['peak_streams'] for f in figures)})",
            f"COMPLETED read: a reader polls each task's record (consistent GetItem) every "
            f"{READ_EVERY_SECONDS * 1000:.0f} ms after its last token: p50 {percentile(delays, 50):.2f} s, "
            f"p95 {p95:.2f} s, max {max(delays):.2f} s",
        ],
    )


def _read_completions(store: Any, ids: dict[str, str], events: Any, source: Any, timeout: float) -> tuple:
    """Until every task reads COMPLETED: each stream's model time (the last stream of a task that ran twice)
    and, per task, the delay from its last token to the first read that shows it COMPLETED."""
    model: dict[str, float] = {}
    waiting: dict[str, float] = {}
    delays: dict[str, float] = {}
    gives_up = time.monotonic() + timeout
    while len(delays) < len(ids):
        if source.error is not None:
            raise RuntimeError("an instance failed") from source.error
        if time.monotonic() > gives_up:
            raise TimeoutError(f"{len(delays)} of {len(ids)} tasks read COMPLETED after {timeout:.0f} s")
        time.sleep(READ_EVERY_SECONDS)
        with contextlib.suppress(queue.Empty):
            while True:
                prompt, first_request, last_token = events.get_nowait()
                model[prompt] = last_token - first_request
                waiting[prompt] = max(waiting.get(prompt, 0.0), last_token)
        for prompt, last_token in list(waiting.items()):
            task = store.get("bench", ids[prompt])
            if task is not None and task.status == "COMPLETED":
                delays[prompt] = time.monotonic() - last_token
                del waiting[prompt]
    return sum(model.values()), list(delays.values())
