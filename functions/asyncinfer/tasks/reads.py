"""A read of a task, computed once by the service and rendered by every surface: the task, its result, where it
stands in its lane, the poll hint, and how its outputs are downloaded; and what every read adds about when the
task runs (its class; while it waits its place in its lane and estimated start; while it runs, once it reports
it, its progress and, when its progress can tell, its estimated finish; its deadlines), each time in the
surface's own spelling. A stream's status events carry the same."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Protocol

from asyncinfer.domain.complete_by import seconds
from asyncinfer.domain.lanes import Standing, estimate_finish
from asyncinfer.domain.model import Task, TaskStatus, now_ms

Stamp = Callable[[int], Any]  # epoch ms -> a time as the surface spells it


class TaskPage(Protocol):
    """A page of a tenant's tasks as a surface lists them (the service's list gives one)."""

    @property
    def tasks(self) -> Sequence[Task]: ...

    @property
    def next_cursor(self) -> str | None: ...  # where the next page starts; None on the last


@dataclass(frozen=True)
class TaskRead:
    """What a surface shows of a task. The result (which may be in S3) and the standing (a count on the
    queued index) are looked up on first use, so a surface that shows neither pays for neither."""

    task: Task
    poll_after_ms: int | None  # how long a client should wait before reading again; None once it has ended
    url_for: Callable[[str], str]  # an output's key -> a download URL, minted on every read
    load_result: Callable[[Task], dict[str, Any] | None]
    load_standing: Callable[[Task], Standing | None]

    @cached_property
    def result(self) -> dict[str, Any] | None:
        return self.load_result(self.task)

    @cached_property
    def standing(self) -> Standing | None:
        return self.load_standing(self.task)

    def timing(self, stamp: Stamp, now: int | None = None) -> dict[str, Any]:
        return timing(self.task, self.standing, stamp, now)


def timing(task: Task, standing: Standing | None, stamp: Stamp, now: int | None = None) -> dict[str, Any]:
    """When the task runs, with each time in `stamp`'s spelling; `now` (epoch ms) for the estimated finish: the
    time of the read when not given."""
    out: dict[str, Any] = {"service_tier": task.service_tier.value}
    # How it runs (a batch item's or a complete_by task's path), its target, and what it saved against on demand.
    if task.path is not None:
        out["path"] = task.path
    if task.complete_by is not None:
        out["complete_by"] = seconds(task.complete_by)
    if task.cost_on_demand is not None and (task.complete_by is not None or task.batch_id is not None):
        # Only where a saving is reported (complete_by, batches): other reads keep their surfaces' shapes.
        out["cost_on_demand"] = task.cost_on_demand.model_dump()
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


def status_event(task: Task, standing: Standing | None, stamp: Stamp, now: int | None = None) -> dict[str, Any]:
    """A stream's `status` event (made by the stream, never stored): the task's status, and what a read adds
    about when it runs."""
    return {"type": "status", "status": task.status.value, **timing(task, standing, stamp, now)}
