"""The Async API's spelling of a task, without its routes or answer models: `task_<uuid>` ids, ISO-8601 UTC times,
the summary fields. Apart from asyncinfer.surfaces.async_api so that the streaming function, which spells its
status frames this way, does not build that surface (asyncinfer.handlers.stream)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from asyncinfer.domain import ids
from asyncinfer.domain.model import Task

ID_PREFIX = "task_"
TIMES = ("created_at", "started_at", "completed_at", "failed_at", "cancelled_at")


def public_id(task_id: str) -> str:
    return ID_PREFIX + ids.as_uuid(task_id)


def internal_id(public: str) -> str:
    """The store id behind a public id (any surface's spelling); anything malformed is simply not found."""
    return ids.parse_any(public)


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def summary(task: Task) -> dict[str, Any]:
    """The fields of the submit, cancel and list answers."""
    out: dict[str, Any] = {"id": public_id(task.id), "status": task.status.value}
    for name in TIMES:
        value = getattr(task, name)
        if value is not None:
            out[name] = iso(value)
    return out
