"""The Async API surface (reference 000): POST/GET /v1/async, GET/DELETE /v1/async/{id}, POST
/v1/async/{id}/cancel; `task_<uuid>` ids, ISO-8601 UTC times, canonical statuses. Its event stream is served by
the streaming function (asyncinfer.surfaces.streams)."""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import Any, Literal

from pydantic import Field

from asyncinfer.domain import ids
from asyncinfer.domain.errors import InvalidRequest
from asyncinfer.domain.model import CHAT_KINDS, Task, TaskStatus
from asyncinfer.domain.requests import ChatRequest
from asyncinfer.surfaces.answers import answer, later, shared, timed
from asyncinfer.surfaces.async_ids import ID_PREFIX as ID_PREFIX  # the surface's spelling, named here too
from asyncinfer.surfaces.async_ids import TIMES, internal_id, iso, public_id, summary
from asyncinfer.surfaces.contract import (
    CancelAfter,
    Cursor,
    Id,
    IdempotencyKey,
    Limit,
    Prefer,
    StartTimeout,
    StatusFilter,
    Tasks,
    body,
    present,
    read_response,
    route,
)
from asyncinfer.surfaces.edge import submission, submit, tenant_of, waited
from asyncinfer.surfaces.routing import Router
from asyncinfer.tasks.reads import TaskPage, TaskRead


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


def listing(page: TaskPage) -> dict[str, Any]:
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


@cache
def answers() -> dict[str, Any]:
    """This surface's answer models (asyncinfer.surfaces.answers: made when the document is)."""
    summary = answer(
        "AsyncTask",
        id=(str, Field(examples=["task_0190a5d2-7b3c-7d4e-8f00-1a2b3c4d5e6f"])),
        status=Literal["CREATED", "IN_PROGRESS", "COMPLETED", "FAILED", "CANCELLED"],
        created_at=datetime,
        **dict.fromkeys(TIMES[1:], (datetime | None, None)),
    )
    # A list item: the submit's answer, and the model (so that a listing says what each task runs).
    listed = answer("AsyncListedTask", summary, model=(str, Field(examples=["demo-chat"])))
    # A read: how it failed, and once COMPLETED the chat completion's own fields (choices, usage, ...) beside its own.
    base = shared()
    return {
        "Summary": summary,
        "Listing": answer("AsyncTaskList", tasks=list[listed], has_more=bool, next_cursor=str | None),
        "Read": answer("AsyncTaskRead", timed(datetime), listed, base.Open, error=(base.ErrorBody | None, None)),
        "Deleted": answer("AsyncTaskDeleted", id=str, deleted=bool),
    }


Summary, Listing, Read, Deleted = later(answers, "Summary", "Listing", "Read", "Deleted")

router = Router()
TAG = "Async API"


# The submit's request example (Swagger UI's "Try it out" sends it; built from the schema it would be refused): the
# provider's reference request, with a model the packaged registry serves quickly (the MiroMind page's).
EXAMPLE = {
    "model": "mirothinker-1-7-deepresearch-mini",
    "messages": [{"role": "user", "content": "Write a short research note on quantum computing advances."}],
}


@route(
    router,
    "POST",
    "/v1/async",
    "Submit a chat completion",
    TAG,
    ok=Summary,
    takes_body=True,
    example=EXAMPLE,
    waits=Read,
)
def submit_task(
    svc: Tasks,
    request: body(ChatRequest),
    idempotency_key: IdempotencyKey = None,
    start_timeout: StartTimeout = None,
    cancel_after: CancelAfter = None,
    prefer: Prefer = None,
):  # a Response when it waited: Preference-Applied is a header
    how = submission("async", idempotency_key, start_timeout, cancel_after)
    return waited(svc, submit(router, svc.submit_chat, request, how), prefer, summary, read)


@route(router, "GET", "/v1/async", "List tasks, newest first", TAG, ok=Listing)
def list_tasks(svc: Tasks, limit: Limit = None, cursor: Cursor = None, status: StatusFilter = None) -> dict:
    limit_, after, status_ = list_params(present(limit=limit, cursor=cursor, status=status))
    return listing(svc.list(tenant_of(router), limit=limit_, after=after, status=status_, kinds=CHAT_KINDS))


@route(router, "GET", "/v1/async/{id}", "Get a task (with the completion once COMPLETED)", TAG, ok=Read, poll_hint=True)
def get_task(id: Id, svc: Tasks):  # a Response: the poll hint is a header
    return read_response(svc.read(tenant_of(router), internal_id(id), CHAT_KINDS), read)


@route(router, "POST", "/v1/async/{id}/cancel", "Cancel a task", TAG, ok=Summary)
def cancel_task(id: Id, svc: Tasks) -> dict:
    task = svc.get(tenant_of(router), internal_id(id), CHAT_KINDS)  # what GET sees, or 404
    return summary(svc.cancel(task.tenant, task.id))


@route(router, "DELETE", "/v1/async/{id}", "Delete a task (soft: cancels, hides, purges its files)", TAG, ok=Deleted)
def delete_task(id: Id, svc: Tasks) -> dict:
    task = svc.get(tenant_of(router), internal_id(id), CHAT_KINDS)  # what GET sees, or 404
    svc.delete(task.tenant, task.id)
    return {"id": public_id(task.id), "deleted": True}
