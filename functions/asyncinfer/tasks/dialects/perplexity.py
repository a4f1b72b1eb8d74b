"""The Perplexity async chat completions surface (reference 002): uuid ids, integer epoch seconds,
four statuses (a cancelled task reads as FAILED), `{requests, next_token}` lists."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from asyncinfer.domain import ids
from asyncinfer.domain.errors import InvalidRequest
from asyncinfer.domain.fields import PERPLEXITY_ENVELOPE, check_near_misses
from asyncinfer.domain.model import Task, TaskStatus
from asyncinfer.domain.requests import validation_message
from asyncinfer.store.base import Page
from asyncinfer.tasks.reads import TaskRead

STATUS = {
    TaskStatus.CREATED: "CREATED",
    TaskStatus.IN_PROGRESS: "IN_PROGRESS",
    TaskStatus.COMPLETED: "COMPLETED",
    TaskStatus.FAILED: "FAILED",
    TaskStatus.CANCELLED: "FAILED",
}
# Perplexity's cost object has these too; nothing here produces them yet.
_ZERO_COSTS = ("reasoning_tokens_cost", "citation_tokens_cost", "search_queries_cost")


class SubmitBody(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore")

    request: dict[str, Any]
    idempotency_key: str | None = Field(default=None)


def parse_submit(body: dict[str, Any], header_key: str | None) -> tuple[dict[str, Any], str | None]:
    """The chat completion body and the idempotency key (body field or Idempotency-Key header). Other fields
    of the envelope are ignored, unless they are near misses of its own (`idempotency_kye`)."""
    check_near_misses(body, PERPLEXITY_ENVELOPE)
    if "request" not in body and "messages" in body:
        raise InvalidRequest(
            'The chat completion goes in "request": {"request": {"model": ..., "messages": [...]}, '
            '"idempotency_key": ...}'
        )
    try:
        parsed = SubmitBody.model_validate(body)
    except ValidationError as exc:
        raise InvalidRequest(validation_message(exc)) from None
    key = parsed.idempotency_key
    if key is not None and header_key is not None and key != header_key:
        raise InvalidRequest("idempotency_key and the Idempotency-Key header disagree")
    return parsed.request, key if key is not None else header_key


def _seconds(ms: int | None) -> int | None:
    return ms // 1000 if ms is not None else None


def _usage(usage: dict[str, Any]) -> dict[str, Any]:
    cost = {**usage.get("cost", {}), **{name: 0 for name in _ZERO_COSTS}}
    return {**usage, "cost": cost}


def summary(task: Task) -> dict[str, Any]:
    return {
        "id": ids.as_uuid(task.id),
        "model": task.model,
        "status": STATUS[task.status],
        "created_at": _seconds(task.created_at),
        "started_at": _seconds(task.started_at),
        "completed_at": _seconds(task.completed_at),
        "failed_at": _seconds(task.failed_at or task.cancelled_at),
    }


def detail(task: Task, result: dict[str, Any] | None) -> dict[str, Any]:
    out = summary(task)
    response = None
    if task.status == TaskStatus.COMPLETED and result is not None:
        response = {**result, "usage": _usage(result.get("usage", {}))}
    error_message = None
    if task.error is not None:
        error_message = task.error.message
    elif task.status == TaskStatus.CANCELLED:
        error_message = "The request was cancelled"
    return {**out, "response": response, "error_message": error_message}


def read(view: TaskRead) -> dict[str, Any]:
    return {**detail(view.task, view.result), **view.timing(_seconds)}


def listing(page: Page) -> dict[str, Any]:
    return {
        "requests": [summary(task) for task in page.tasks],
        "next_token": ids.as_uuid(page.next_cursor) if page.next_cursor else None,
    }
