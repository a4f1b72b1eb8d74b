"""The Async API surface (reference 000): `task_<uuid>` ids, ISO-8601 UTC times, canonical statuses."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from asyncinfer.domain import ids
from asyncinfer.domain.errors import InvalidRequest
from asyncinfer.domain.model import Task, TaskStatus
from asyncinfer.store.base import Page
from asyncinfer.tasks.reads import TaskRead

ID_PREFIX = "task_"
_TIMES = ("created_at", "started_at", "completed_at", "failed_at", "cancelled_at")


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
    for name in _TIMES:
        value = getattr(task, name)
        if value is not None:
            out[name] = iso(value)
    return out


def detail(task: Task, result: dict[str, Any] | None) -> dict[str, Any]:
    """GET /v1/async/{id}: the summary, and once COMPLETED the whole chat completion alongside it."""
    out = {**summary(task), "model": task.model}
    if task.error is not None:
        out["error"] = task.error.model_dump()
    if task.status == TaskStatus.COMPLETED and result is not None:
        for name, value in result.items():
            out.setdefault(name, value)
    elif task.usage is not None:
        out["usage"] = task.usage.model_dump(exclude_none=True)  # what a task stopped early was charged
    return out


def read(view: TaskRead) -> dict[str, Any]:
    return {**detail(view.task, view.result), **view.timing(iso)}


def listing(page: Page) -> dict[str, Any]:
    return {
        "tasks": [{**summary(task), "model": task.model} for task in page.tasks],
        "has_more": page.next_cursor is not None,
        "next_cursor": public_id(page.next_cursor) if page.next_cursor else None,
    }


def list_params(params: dict[str, str]) -> tuple[int, str | None, TaskStatus | None]:
    """`limit`, `cursor` and `status` query parameters, validated."""
    limit, after = ids.page(params, "cursor", internal_id)
    raw_status = params.get("status")
    status = None
    if raw_status:
        try:
            status = TaskStatus(raw_status.upper())
        except ValueError:
            raise InvalidRequest(f"status must be one of {', '.join(s.value for s in TaskStatus)}") from None
    return limit, after, status
