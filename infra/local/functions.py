"""Invokes the real Lambda handlers in-process, the way the Lambda runtime would."""

from __future__ import annotations

import contextvars
import functools
import importlib
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from asyncinfer.routes import HANDLERS
from asyncinfer.tasks.waiting import PAUSE
from infra.local.quiet import forget_unpublished_metrics

# The function whose handler runs in this context (None outside any): what a test holds each AWS call to.
RUNNING: contextvars.ContextVar[str | None] = contextvars.ContextVar("running_function", default=None)


@dataclass
class LocalContext:
    """The parts of the Lambda context object the handlers (and Powertools) use."""

    function_name: str
    timeout_seconds: float
    memory_limit_in_mb: int = 1024
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_version: str = "$LATEST"
    log_group_name: str = "local"
    log_stream_name: str = "local"
    # Set when the local stack stops (Ctrl-C): a worker invocation then takes no more work (handlers.worker).
    stopping: threading.Event | None = None
    _deadline: float = 0.0

    def __post_init__(self) -> None:
        self._deadline = time.monotonic() + self.timeout_seconds
        self.invoked_function_arn = f"arn:aws:lambda:us-east-1:000000000000:function:{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


class LocalFunctions:
    """One in-process 'function' per handler. API functions take one event at a time, like a Lambda
    instance, and one at a time among them all: they share this process's logger keys and metrics buffer
    (Powertools keeps both per process). On AWS each function has processes of its own; here two API
    functions running at once would log and count under each other's requests. A submit waiting for its task
    gives the turn away while it pauses (`_pause_unlocked`); the event it answers is its thread's own
    (asyncinfer.surfaces.routing keeps it in a context variable)."""

    def __init__(self, timeouts: dict[str, float] | None = None) -> None:
        self._timeouts = timeouts or {}
        self._handlers: dict[str, Callable[[dict, Any], Any]] = {}
        self.stopping = threading.Event()
        one = threading.Lock()
        self._locks = {name: one for name in HANDLERS if name.startswith("api_")}

    def handler(self, name: str) -> Callable[[dict, Any], Any]:
        if name not in self._handlers:
            module_name, _, attr = HANDLERS[name].rpartition(".")
            self._handlers[name] = _running_as(name, getattr(importlib.import_module(module_name), attr))
        return self._handlers[name]

    def invoke(self, name: str, event: dict) -> Any:
        handler = self.handler(name)
        # One process hosts every function (and the tests) here: no function's memory size bounds its size, so
        # a worker invocation's memory backpressure (handlers.worker) has no limit to hold to.
        context = LocalContext(
            function_name=f"asyncinfer-{name}",
            timeout_seconds=self._timeouts.get(name, 30),
            memory_limit_in_mb=0,
            stopping=self.stopping,
        )
        lock = self._locks.get(name)
        if lock is None:
            return handler(event, context)
        with lock:
            token = PAUSE.set(functools.partial(_pause_unlocked, lock))
            try:
                return handler(event, context)
            finally:
                PAUSE.reset(token)

    def stop(self) -> None:
        """The stack is stopping: invocations under way finish what they run and start nothing more."""
        self.stopping.set()


def _pause_unlocked(lock: threading.Lock, seconds: float) -> None:
    """A submit's wait (`Prefer: wait`) lets the other API requests run meanwhile."""
    lock.release()
    try:
        time.sleep(seconds)
    finally:
        lock.acquire()


def _running_as(name: str, handler: Callable[[dict, Any], Any]) -> Callable[[dict, Any], Any]:
    @functools.wraps(handler)
    def run(event: dict, context: Any) -> Any:
        token = RUNNING.set(name)
        try:
            return handler(event, context)
        finally:
            RUNNING.reset(token)
            forget_unpublished_metrics()

    return run
