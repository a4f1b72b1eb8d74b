"""The NetMind generation surface (reference 003): 32-hex ids, `YYYY-MM-DD HH:MM:SS` times, soft delete
shown as `is_deleted`/`deleted_at`, outputs as `result.data[]` with a URL minted on every read."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from asyncinfer.domain.model import LOWERCASE_STATUS, Task, TaskStatus
from asyncinfer.store.base import Page
from asyncinfer.tasks.reads import TaskRead

STATUS = LOWERCASE_STATUS
DELETED = {"message": "Generation deleted"}


def stamp(ms: int | None) -> str | None:
    if ms is None:
        return None
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M:%S")


def generation(task: Task, url_for: Callable[[str], str]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    if task.status == TaskStatus.COMPLETED and task.deleted_at is None:
        result = {
            "data": [
                {"url": url_for(o.key), "file_id": o.file_id, "file_name": o.file_name, "file_type": o.file_type}
                for o in task.outputs
            ]
        }
    out: dict[str, Any] = {
        "id": task.id,
        "user_id": task.tenant,
        "status": STATUS[task.status],
        "created_at": stamp(task.created_at),
        "updated_at": stamp(task.updated_at),
        "deleted_at": stamp(task.deleted_at),
        "is_deleted": task.deleted_at is not None,
        "result": result,
    }
    if task.error is not None:
        out["error"] = task.error.model_dump()
    return out


def read(view: TaskRead) -> dict[str, Any]:
    return {**generation(view.task, view.url_for), **view.timing(stamp)}


def listing(page: Page, url_for: Callable[[str], str]) -> dict[str, Any]:
    out: dict[str, Any] = {"generation_list": [generation(task, url_for) for task in page.tasks]}
    if page.next_cursor:
        out["next_token"] = page.next_cursor
    return out
