"""The local stack's console says what happened, once: expected outcomes are one line, not tracebacks.

Every process of the stack (the stack itself, the flex lane, the runner instance) logs to the console the same
way (console_logging): warnings and up on standard error, one readable line each ("WARNING logger message"),
and a real error's traceback under its line.

- The handlers log through Powertools' Logger (asyncinfer.observability), whose own handler writes each record
  as a JSON object to standard output: CloudWatch's format, on AWS. The records also propagate to the root
  logger: with a console handler there, every warning was printed twice, once as JSON and once as a line
  (the sweeper's "task ... missed its deadline" among them). Here the JSON handler stays silent and the
  root's handler prints each record once.
- Metrics are off on a laptop (POWERTOOLS_METRICS_DISABLED, infra.local.defaults). Powertools then skips
  the flush at the end of each invocation, and with it the clearing of the metric set: values pile up, and
  once one metric holds 100 of them add_metric prints the whole set as one EMF JSON blob (about 1 KB) on
  standard output, disabled or not. forget_unpublished_metrics clears them after each invocation.
- A cancelled long task's durable execution is stopped (StopDurableExecution). The runner's invocation
  still under way then has every checkpoint refused ('Invalid checkpoint token'), and the durable execution
  SDK logs each refusal with its traceback from two threads (four tracebacks, about 90 lines) although the
  task is correctly CANCELLED. On AWS those records go to the runner's log group; here they would flood the
  console (StoppedExecutions).
"""

from __future__ import annotations

import logging
import sys
import threading
import time
import warnings

SDK = "aws_durable_execution_sdk_python"
STOPPED = "Invalid checkpoint token"
CONSOLE_FORMAT = "%(levelname)s %(name)s %(message)s"
ONE_LINE = "runner: the execution was stopped (its task was cancelled or ended); its invocation ends"
# A record's own attributes; uvicorn's color_message repeats its message.
_PLAIN = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "taskName",
    "color_message",
}


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
        for given in [key for key in vars(record) if key not in _PLAIN]:  # the refused call's response
            delattr(record, given)
        return True


def _never(record: logging.LogRecord) -> bool:
    return False


class ConsoleFormatter(logging.Formatter):
    """A record's line: its level, logger and message, then what it was given as `extra` in brackets (the
    handlers' Powertools calls name their task or delivery there: `extra={"task_id": ...}`)."""

    def __init__(self) -> None:
        super().__init__(CONSOLE_FORMAT)

    def formatMessage(self, record: logging.LogRecord) -> str:
        extra = " ".join(f"{k}={v}" for k, v in vars(record).items() if k not in _PLAIN and not k.startswith("_"))
        line = super().formatMessage(record)
        return f"{line} ({extra})" if extra else line


def console_logging(*filters: logging.Filter) -> None:
    """This process's console: warnings and up on standard error, one line each, every record once."""
    # The handlers' Powertools Logger first: made after the console's handler, it would add a filter there
    # dropping its own records (its duplicate guard), and how a warning showed would depend on the order of
    # imports: twice in the stack's process, as JSON only in the runner's, and not at all in the flex lane's
    # (its standard output was a pipe nobody read; infra.local.child now passes it on).
    from asyncinfer.observability import logger

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(ConsoleFormatter())
    for each in filters:
        handler.addFilter(each)
    logging.basicConfig(level=logging.WARNING, handlers=[handler])
    # Its records reach the console through the root logger, as one line; its JSON copy is for CloudWatch.
    logger.registered_handler.addFilter(_never)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", message="No application metrics to publish")


def quiet_runner_console() -> None:
    """The runner instance's console: stopped executions said once."""
    console_logging(StoppedExecutions())


def forget_unpublished_metrics() -> None:
    """After each invocation: with metrics off (POWERTOOLS_METRICS_DISABLED, Powertools' documented switch:
    https://docs.powertools.aws.dev/lambda/python/latest/core/metrics/ ; read by is_metrics_disabled() at
    each flush), drop what it added. Powertools' flush returns early when metrics are disabled, before
    clearing the set; add_metric's own flush, at 100 values of one metric (Powertools PR #1046, for the
    EMF limit), does not look at the switch and prints the set as an EMF blob: one per 100 submits, and
    one every 7 minutes from the sweeper's runs (every 5 and 30 s) of an idle stack."""
    from aws_lambda_powertools.metrics.functions import is_metrics_disabled

    from asyncinfer.observability import metrics

    if is_metrics_disabled():
        metrics.clear_metrics()
