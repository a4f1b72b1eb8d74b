"""What every surface's read adds about when a task runs: its class; while it waits its place in its lane
and estimated start, each time in the surface's own spelling; once it reports it, its progress."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from asyncinfer.domain.model import Task
from asyncinfer.domain.scheduling import Standing


def fields(task: Task, standing: Standing | None, stamp: Callable[[int], Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"service_tier": task.service_tier.value}
    if task.progress is not None:
        out["progress"] = task.progress.model_dump(exclude_none=True)
    if standing is not None:
        out["queue_position"] = standing.queue_position
        at = standing.estimated_start_at
        out["estimated_start_at"] = stamp(at) if at is not None else None
    return out
