"""The Async API surface: POST/GET /v1/async, GET/DELETE /v1/async/{id}, POST /v1/async/{id}/cancel."""

from __future__ import annotations

from aws_lambda_powertools.event_handler.api_gateway import Router

from asyncinfer.api.contract import (
    CancelAfter,
    Cursor,
    Id,
    IdempotencyKey,
    Limit,
    StartTimeout,
    StatusFilter,
    body,
    present,
    read,
    route,
)
from asyncinfer.api.deps import Tasks
from asyncinfer.api.shapes import TASK, obj, scheduled
from asyncinfer.domain.model import CHAT_KINDS
from asyncinfer.domain.requests import ChatRequest
from asyncinfer.http import submission, submit, tenant_of
from asyncinfer.tasks.dialects import async_api

# A list item: the submit's answer, and the model (so that a listing says what each task runs).
LISTED = {**TASK, "properties": {**TASK["properties"], "model": {"type": "string", "example": "demo-chat"}}}

router = Router()
READ = scheduled(TASK, {"type": ["string", "null"], "format": "date-time"})
TAG = "Async API"


@route(router, "POST", "/v1/async", "Submit a chat completion", TAG, ok=TASK, takes_body=True)
def submit_task(
    svc: Tasks,
    request: body(ChatRequest),
    idempotency_key: IdempotencyKey = None,
    start_timeout: StartTimeout = None,
    cancel_after: CancelAfter = None,
) -> dict:
    how = submission("async", idempotency_key, start_timeout, cancel_after)
    return async_api.summary(submit(router, svc.submit_chat, request, how))


@route(
    router,
    "GET",
    "/v1/async",
    "List tasks, newest first",
    TAG,
    ok=obj(tasks={"type": "array", "items": LISTED}, has_more={"type": "boolean"}, next_cursor={}),
)
def list_tasks(svc: Tasks, limit: Limit = None, cursor: Cursor = None, status: StatusFilter = None) -> dict:
    limit_, after, status_ = async_api.list_params(present(limit=limit, cursor=cursor, status=status))
    return async_api.listing(svc.list(tenant_of(router), limit=limit_, after=after, status=status_, kinds=CHAT_KINDS))


@route(router, "GET", "/v1/async/{id}", "Get a task (with the completion once COMPLETED)", TAG, ok=READ, poll_hint=True)
def get_task(id: Id, svc: Tasks):  # a Response: the poll hint is a header
    return read(svc.read(tenant_of(router), async_api.internal_id(id), CHAT_KINDS), async_api.read)


@route(router, "POST", "/v1/async/{id}/cancel", "Cancel a task", TAG, ok=TASK)
def cancel_task(id: Id, svc: Tasks) -> dict:
    task = svc.get(tenant_of(router), async_api.internal_id(id), CHAT_KINDS)  # what GET sees, or 404
    return async_api.summary(svc.cancel(task.tenant, task.id))


@route(
    router,
    "DELETE",
    "/v1/async/{id}",
    "Delete a task (soft: cancels, hides, purges its files)",
    TAG,
    ok=obj(id={"type": "string"}, deleted={"type": "boolean"}),
)
def delete_task(id: Id, svc: Tasks) -> dict:
    task = svc.get(tenant_of(router), async_api.internal_id(id), CHAT_KINDS)  # what GET sees, or 404
    svc.delete(task.tenant, task.id)
    return {"id": async_api.public_id(task.id), "deleted": True}
