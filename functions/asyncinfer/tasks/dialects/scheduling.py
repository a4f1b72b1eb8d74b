"""What every surface's read adds about when a task runs: its class; while it waits its place in its lane
and estimated start; while it runs, once it reports it, its progress and (when its progress can tell) its
estimated finish; its deadlines; each time in the surface's own spelling. A stream's status events carry
the same."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from asyncinfer.domain.model import Task, TaskStatus, now_ms
from asyncinfer.domain.scheduling import Standing, estimate_finish


def fields(
    task: Task, standing: Standing | None, stamp: Callable[[int], Any], now: int | None = None
) -> dict[str, Any]:
    """`now` (epoch ms) for the estimated finish: the time of the read when not given."""
    out: dict[str, Any] = {"service_tier": task.service_tier.value}
    if task.progress is not None:
        progress = task.progress
        if task.status == TaskStatus.COMPLETED and progress.percent is not None:
            # Its last report was before its last step: done is all of it.
            progress = progress.model_copy(update={"percent": 100.0, "step": progress.steps or progress.step})
        out["progress"] = progress.model_dump(exclude_none=True)
        finish = estimate_finish(task, now_ms() if now is None else now)
        if finish is not None:
            out["estimated_finish_at"] = stamp(finish)
    if standing is not None:
        out["queue_position"] = standing.queue_position
        if standing.estimated:
            out["queue_position_estimated"] = True
        at = standing.estimated_start_at
        out["estimated_start_at"] = stamp(at) if at is not None else None
    # Its deadlines (asyncinfer.domain.deadlines): the start's while it waits; the end's once fixed, or while it
    # waits, the execution timeout that will fix it at the start.
    if task.start_by is not None and task.started_at is None:
        out["start_deadline_at"] = stamp(task.start_by)
    if task.finish_by is not None:
        out["deadline_at"] = stamp(task.finish_by)
    if task.execution_timeout_ms is not None and task.started_at is None:
        out["execution_timeout"] = task.execution_timeout_ms / 1000
    return out


def status_event(
    task: Task, standing: Standing | None, stamp: Callable[[int], Any], now: int | None = None
) -> dict[str, Any]:
    """A stream's `status` event (made by the stream, never stored): the task's status, and what a read adds
    about when it runs."""
    return {"type": "status", "status": task.status.value, **fields(task, standing, stamp, now)}
