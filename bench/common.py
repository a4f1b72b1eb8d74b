"""What every benchmark shares: figures, the result row, and counting the AWS calls a run makes."""

from __future__ import annotations

import math
import os
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import boto3
import httpx

from infra.local.emulator import Emulator
from infra.local.functions import LocalFunctions
from infra.local.launch import free_port

SMOKE = os.environ.get("BENCH_SMOKE") == "1"


def quiet_stack(**env: str) -> tuple[Any, Any]:
    """A local stack for a row (logging errors only, no submit quotas in the way of one fast tenant) and a
    DynamoDB client on its emulator."""
    from infra.local.launch import launch

    stack = launch(
        "ai_bench_",
        POWERTOOLS_LOG_LEVEL="ERROR",
        ASYNCINFER_SUBMITS_PER_WINDOW="0",
        ASYNCINFER_MAX_INFLIGHT_TASKS="0",
        **env,
    )
    ddb = boto3.client(
        "dynamodb",
        endpoint_url=stack.emulator,
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )
    return stack, ddb


def median(values: list[float]) -> float:
    return statistics.median(values)


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile: the smallest value with at least p% of the values at or below it."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


@dataclass
class Row:
    name: str
    figure: str
    target: str
    met: bool
    details: list[str] = field(default_factory=list)


class _Current:
    """Which function and lifecycle phase the calls being made are for. Plain attributes, not context
    variables: the worker runs tasks on its own threads, and the cost run is sequential anyway."""

    function = "client"
    phase = "setup"


CURRENT = _Current()


@dataclass(frozen=True)
class Call:
    phase: str
    function: str
    service: str
    operation: str
    params: dict[str, Any]
    response: dict[str, Any]
    seconds: float


class CallLog:
    """Every botocore call made through boto3's default session (the one asyncinfer.wiring uses), with
    its parameters, its parsed answer and how long it took, tagged with function and phase."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self._lock = threading.Lock()
        self._started: dict[int, tuple[float, dict[str, Any]]] = {}

    def install(self) -> None:
        events = boto3._get_default_session().events
        events.register("before-parameter-build.*.*", self._before)
        events.register("after-call.*.*", self._after)

    def _before(self, params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context["bench"] = (time.perf_counter(), dict(params))

    def _after(self, model: Any, parsed: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        started, params = context.get("bench", (time.perf_counter(), {}))
        call = Call(
            CURRENT.phase,
            CURRENT.function,
            model.service_model.service_name,
            model.name,
            params,
            parsed,
            time.perf_counter() - started,
        )
        with self._lock:
            self.calls.append(call)

    def counts(self, phase: str | None = None) -> Counter[tuple[str, str]]:
        return Counter((c.service, c.operation) for c in self.calls if phase is None or c.phase == phase)


class TaggedFunctions(LocalFunctions):
    """LocalFunctions that tag the calls a handler makes with its name and time each invocation."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.invocations: list[tuple[str, str, float]] = []
        self._lock = threading.Lock()

    def invoke(self, name: str, event: dict) -> Any:
        outer, CURRENT.function = CURRENT.function, name
        started = time.perf_counter()
        try:
            return super().invoke(name, event)
        finally:
            elapsed = time.perf_counter() - started
            CURRENT.function = outer
            with self._lock:
                self.invocations.append((CURRENT.phase, name, elapsed))


@contextmanager
def phase(name: str) -> Iterator[None]:
    outer, CURRENT.phase = CURRENT.phase, name
    try:
        yield
    finally:
        CURRENT.phase = outer


class EmulatorProcess(Emulator):
    """The emulator (moto's server) in a process of its own, so that calls the measured code makes in
    parallel are not serialized behind the emulator's own Python threads."""

    def __init__(self) -> None:
        port = free_port()
        self.endpoint = f"http://127.0.0.1:{port}"
        self._process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(self.endpoint + "/moto-api/", timeout=1)
                return
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def stop(self) -> None:
        self._process.terminate()
        self._process.wait(timeout=10)
