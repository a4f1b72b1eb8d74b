"""A task's deadlines: by when it must start (else it ends FAILED `start_timeout` and never runs) and by when
it must end once started (else it is stopped and ends FAILED `deadline_exceeded`).

Asked for per request, in the body or in the headers the anchors use:
- `start_timeout` (seconds), or fal's `X-Fal-Request-Timeout` header: a time-to-start deadline counted from
  the submit (queue wait and retries included; once started, the task runs as long as it needs);
- `execution_timeout` (seconds, RunPod's `executionTimeout` in seconds): the longest it may run, counted
  from its start;
- Replicate's `Cancel-After` header (`30s`, `5m`, `1h30m`, or bare seconds): one deadline counted from the
  submit; missed before the start it is `start_timeout`, after it `deadline_exceeded`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from asyncinfer.domain.errors import InvalidRequest
from asyncinfer.domain.escalation import Outlook, item_ms
from asyncinfer.domain.model import ServiceTier, Task, TaskStatus

START_TIMEOUT = "start_timeout"
DEADLINE_EXCEEDED = "deadline_exceeded"
# A batch's item unfinished when its batch's completion window ended (OpenAI's error code for it).
BATCH_EXPIRED = "batch_expired"
BATCH_EXPIRED_MESSAGE = "The request could not be executed before the completion window ended"
START_HEADER = "x-fal-request-timeout"
CANCEL_AFTER_HEADER = "cancel-after"
# fal's floor is 0.1 s; a week is past any task's sense (and under the retention of its record).
MIN_SECONDS = 0.1
MAX_SECONDS = 7 * 86400
_DURATION = re.compile(r"^(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m(?!s))?(?:(\d+(?:\.\d+)?)s)?(?:(\d+)ms)?$")


@dataclass(frozen=True)
class Deadlines:
    """What a request asked for, in milliseconds; turned into the task's fields at its creation."""

    start_ms: int | None = None  # from the submit
    execution_ms: int | None = None  # from the start
    total_ms: int | None = None  # from the submit (Cancel-After)

    def fields(self, created_at: int) -> dict[str, Any]:
        """The task's `start_by`, `finish_by` (absolute, epoch ms) and `execution_timeout_ms`."""
        ends = [created_at + ms for ms in (self.start_ms, self.total_ms) if ms is not None]
        out: dict[str, Any] = {}
        if ends:
            out["start_by"] = min(ends)
        if self.total_ms is not None:
            out["finish_by"] = created_at + self.total_ms
        if self.execution_ms is not None:
            out["execution_timeout_ms"] = self.execution_ms
        return out

    def merged(self, other: Deadlines) -> Deadlines:
        """These, each unset one taken from `other` (the body wins over the headers)."""
        return Deadlines(
            self.start_ms if self.start_ms is not None else other.start_ms,
            self.execution_ms if self.execution_ms is not None else other.execution_ms,
            self.total_ms if self.total_ms is not None else other.total_ms,
        )


def _milliseconds(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidRequest(f"{where} must be a number of seconds")
    if not MIN_SECONDS <= value <= MAX_SECONDS:
        raise InvalidRequest(f"{where} must be between {MIN_SECONDS} and {MAX_SECONDS} seconds; got {value}")
    return round(value * 1000)


def parse_body(body: Mapping[str, Any]) -> Deadlines:
    start, execution = body.get("start_timeout"), body.get("execution_timeout")
    return Deadlines(
        start_ms=None if start is None else _milliseconds(start, "start_timeout"),
        execution_ms=None if execution is None else _milliseconds(execution, "execution_timeout"),
    )


def parse_duration(text: str, where: str) -> int:
    """Replicate's duration (`90s`, `5m`, `1h30m`, `1500ms`) or bare seconds, in milliseconds."""
    text = text.strip()
    try:
        return _milliseconds(float(text), where)
    except ValueError:
        pass
    match = _DURATION.match(text)
    if not text or match is None:
        raise InvalidRequest(f"{where} must be seconds or a duration such as 30s, 5m or 1h30m; got {text[:40]!r}")
    hours, minutes, seconds, millis = (float(g) if g else 0.0 for g in match.groups())
    return _milliseconds(hours * 3600 + minutes * 60 + seconds + millis / 1000, where)


def parse_headers(headers: Mapping[str, str]) -> Deadlines:
    """fal's and Replicate's headers (names in lower case, as API Gateway hands them over)."""
    start, total = headers.get(START_HEADER), headers.get(CANCEL_AFTER_HEADER)
    return Deadlines(
        start_ms=None if start is None else parse_duration(start, "X-Fal-Request-Timeout"),
        total_ms=None if total is None else parse_duration(total, "Cancel-After"),
    )


def finish_by_at_start(task: Task, started_at: int) -> int | None:
    """The task's end deadline once it has started at `started_at`: its own, or its execution timeout's."""
    ends = [task.finish_by] if task.finish_by is not None else []
    if task.execution_timeout_ms is not None:
        ends.append(started_at + task.execution_timeout_ms)
    return min(ends) if ends else None


def missed(task: Task, now: int) -> tuple[str, str] | None:
    """The deadline `task` has missed at `now`, as the (code, message) it fails with; None if none."""
    if task.terminal:
        return None
    if task.batch_deadline is not None and now >= task.batch_deadline:
        return BATCH_EXPIRED, BATCH_EXPIRED_MESSAGE
    if task.started_at is None and task.start_by is not None and now >= task.start_by:
        return START_TIMEOUT, "The task did not start before its start deadline"
    finish_by = task.finish_by if task.started_at is None else finish_by_at_start(task, task.started_at)
    if task.started_at is not None and finish_by is not None and now >= finish_by:
        return DEADLINE_EXCEEDED, "The task did not finish before its deadline; it was stopped"
    return None


# The first look at a flex `complete_by` task (or batch) is set before its model's pace and the deployment's lanes
# are known: as if on-demand were slow (a minute an item, asyncinfer.domain.escalation), the default lane had its
# usual slots and the sweeper ran every minute. There the sweeper (or the batch function) reckons the real escalate
# time and looks again then.
FIRST_LOOK_SLOTS = 20
FIRST_LOOK_SWEEP_MS = 60_000


def escalate_at(complete_by: int, remaining: int, one_item_ms: int, slots: int, sweep_ms: int) -> int:
    """When `remaining` items waiting in flex must move to on-demand to end by `complete_by`: the latest switch
    (asyncinfer.domain.escalation), less a sweep period, since the sweeper looks only that often."""
    return Outlook(0, complete_by, remaining, one_item_ms, slots).latest_switch_ms() - sweep_ms


def first_look(complete_by: int, remaining: int) -> int:
    return escalate_at(complete_by, remaining, item_ms(None), FIRST_LOOK_SLOTS, FIRST_LOOK_SWEEP_MS)


def due_times(task: Task) -> list[int]:
    """When the sweeper must look at `task` (each deadline that may still fall due), in order. Its batch's window is
    watched once for the whole batch (the batch's own due), not once per item. A single `complete_by` task waiting
    in flex is looked at when it may have to move to on-demand."""
    times = {t for t in (task.start_by, task.finish_by) if t is not None and t != task.batch_deadline}
    flex = task.path == ServiceTier.FLEX.value and task.status == TaskStatus.CREATED
    if task.complete_by is not None and task.batch_id is None and flex:
        times.add(first_look(task.complete_by, 1))
    return sorted(times)
