"""The local stack's console says what happened, once: expected outcomes are one line, not tracebacks.

A cancelled long task's durable execution is stopped (StopDurableExecution). The runner's invocation still
under way then has every checkpoint refused ('Invalid checkpoint token'), and the durable execution SDK logs
each refusal with its traceback from two threads (four tracebacks, about 90 lines) although the task is
correctly CANCELLED. On AWS those records go to the runner's log group; here they would flood the console."""

from __future__ import annotations

import logging
import threading
import time

SDK = "aws_durable_execution_sdk_python"
STOPPED = "Invalid checkpoint token"
ONE_LINE = "runner: the execution was stopped (its task was cancelled or ended); its invocation ends"


def _mentions(error: BaseException | None, text: str, depth: int = 0) -> bool:
    if error is None or depth > 8:
        return False
    if text in str(error):
        return True
    linked = (getattr(error, "source_exception", None), error.__cause__, error.__context__)
    return any(_mentions(e, text, depth + 1) for e in linked if e is not error)


class StoppedExecutions(logging.Filter):
    """One line for the records a stopped execution's invocation makes, then none for `quiet_seconds`."""

    def __init__(self, quiet_seconds: float = 10.0) -> None:
        super().__init__()
        self._quiet_seconds = quiet_seconds
        self._said_at = -float("inf")
        self._lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.name.startswith(SDK):
            return True
        error = record.exc_info[1] if record.exc_info else None
        if not (_mentions(error, STOPPED) or STOPPED in record.getMessage()):
            return True
        with self._lock:
            now = time.monotonic()
            first, self._said_at = now - self._said_at > self._quiet_seconds, now
        if not first:
            return False
        record.msg, record.args, record.exc_info, record.exc_text = ONE_LINE, (), None, None
        record.levelno, record.levelname = logging.INFO, "INFO"
        return True


def quiet_runner_console() -> None:
    """The runner instance's logging: warnings and up, one line each, stopped executions said once."""
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
    handler.addFilter(StoppedExecutions())
    logging.basicConfig(level=logging.WARNING, handlers=[handler])
