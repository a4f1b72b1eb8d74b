"""(e) Stream latency: a model emits a word every 50 ms for 3 s; the real worker (event-source poller)
writes them to the event log, the dev gateway's SSE route serves them over HTTP, and a client reads the
stream. Latency = a word received by the client - the word produced by the model, p50/p99; and the
event-log writes the task made per second it streamed. Everything with the deployed defaults of
ASYNCINFER_FLUSH_SECONDS and ASYNCINFER_POLL_SECONDS."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator

import httpx
import uvicorn

from asyncinfer import wiring
from asyncinfer.domain.model import Usage
from asyncinfer.handlers import worker
from asyncinfer.ops.sse import sse_events
from asyncinfer.providers.base import Finished, TextDelta
from asyncinfer.store.dynamodb import DynamoTaskStore
from asyncinfer.tasks.keys import create_key
from bench.common import SMOKE, CallLog, Row, median, percentile
from infra.local.devserver import build_app
from infra.local.emulator import Emulator
from infra.local.functions import LocalFunctions
from infra.local.launch import free_port
from infra.local.poller import Poller

TARGET_P50_MS = 300
TARGET_WRITES_PER_SECOND = 4.0
EVERY = 0.05


class TickingProvider:
    def __init__(self, words: int) -> None:
        self.words = words
        self.produced: dict[int, float] = {}

    def stream_chat(self, upstream_model: str, request) -> Iterator:
        for i in range(self.words):
            time.sleep(EVERY)
            self.produced[i] = time.perf_counter()
            yield TextDelta(f"w{i} ")
        yield Finished("stop", Usage(prompt_tokens=1, completion_tokens=self.words, total_tokens=self.words + 1))


def run() -> Row:
    words = 20 if SMOKE else 60
    emulator = Emulator()
    emulator.start()
    saved = dict(os.environ)
    server = poller = None
    try:
        resources = emulator.create_resources("bench-stream")
        os.environ.update(resources.env())
        os.environ.update(POWERTOOLS_METRICS_DISABLED="true", POWERTOOLS_LOG_LEVEL="ERROR")
        wiring.reset()
        log = CallLog()
        log.install()  # before the handlers make their clients
        key = create_key(DynamoTaskStore(emulator.client("dynamodb"), resources.table_name), "bench")
        functions = LocalFunctions(timeouts={"worker": 300})
        provider = TickingProvider(words)
        worker.runtime()[0].provider_for = lambda spec: provider
        port = free_port()
        server = uvicorn.Server(
            uvicorn.Config(build_app(functions), host="127.0.0.1", port=port, log_level="error", lifespan="off")
        )
        threading.Thread(target=server.run, daemon=True).start()
        while not server.started:
            time.sleep(0.01)
        poller = Poller(emulator.client("sqs"), resources.queue_url, resources.queue_arn, functions, "worker", 1)
        poller.start()
        received: dict[int, float] = {}
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {key}"}) as client:
            task_id = client.post(
                "/v1/async", json={"model": "demo-chat", "messages": [{"role": "user", "content": "tick"}]}
            ).json()["id"]
            with client.stream("GET", f"/v1/async/{task_id}/events", timeout=60) as response:
                for event in sse_events(response):
                    now = time.perf_counter()
                    if event.get("event") == "delta":
                        for word in json.loads(event["data"])["text"].split():
                            received[int(word[1:])] = now
                    if event.get("event") == "end":
                        break
        puts = [c for c in log.calls if c.operation == "PutItem" and "#" in c.params["Item"]["pk"]["S"]]
        leases = [
            c
            for c in log.calls
            if c.operation == "UpdateItem" and "event_seq" in (c.params.get("ExpressionAttributeNames") or {}).values()
        ]
    finally:
        if poller:
            poller.stop()
        if server:
            server.should_exit = True
        os.environ.clear()
        os.environ.update(saved)
        wiring.reset()
        emulator.stop()
    assert sorted(received) == list(range(words)), "every word arrives"
    latencies = [(received[i] - provider.produced[i]) * 1000 for i in range(words)]
    streamed = provider.produced[words - 1] - provider.produced[0] + EVERY
    writes = len(puts) / streamed
    p50 = median(latencies)
    return Row(
        "e. stream latency",
        f"p50 {p50:.0f} ms, p99 {percentile(latencies, 99):.0f} ms; {writes:.1f} event-log writes per task-second",
        f"p50 <= {TARGET_P50_MS} ms, <= {TARGET_WRITES_PER_SECOND:.0f} writes/s",
        p50 <= TARGET_P50_MS and writes <= TARGET_WRITES_PER_SECOND,
        [
            f"{words} words, one every {EVERY * 1000:.0f} ms; {len(puts)} event-log puts and {len(leases)} "
            f"lease/sequence updates (one of each per flush) in {streamed:.1f} s"
        ],
    )
