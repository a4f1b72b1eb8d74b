"""OpenAI's Responses API in background mode: POST /v1/responses, GET /v1/responses/{id}, POST .../{id}/cancel,
DELETE .../{id}, GET .../{id}/input_items; `resp_<32 hex>` ids, the Response object, its streaming events.

Served by its own function (asyncinfer.handlers.api_responses), an ASGI app under Lambda Web Adapter: the SDK asks
for Server-Sent Events per request (`stream` in the body, `?stream=true` on a read) while API Gateway takes one
integration per method, so every route here is integrated in streaming mode. The app serves the event streams
itself and hands every JSON answer to a resolver with this router. The request mapping and the rendering are
asyncinfer.domain.responses (the batch endpoint /v1/responses shares them)."""

from __future__ import annotations

import json
from functools import cache
from typing import Annotated, Any, Literal

from pydantic import Field

from asyncinfer.domain import ids, responses
from asyncinfer.domain.errors import InvalidRequest, TaskNotFound
from asyncinfer.domain.model import CHAT_KINDS, Task
from asyncinfer.surfaces.answers import answer, later, openai_list_of, shared
from asyncinfer.surfaces.contract import (
    CancelAfter,
    Id,
    IdempotencyKey,
    Prefer,
    StartTimeout,
    Tasks,
    body,
    openai_list,
    read_response,
    route,
)
from asyncinfer.surfaces.edge import submission, submit, tenant_of, waited
from asyncinfer.surfaces.routing import Query, Router
from asyncinfer.tasks.service import TaskService

TAG = "Responses"
Status = Literal["queued", "in_progress", "completed", "incomplete", "failed", "cancelled"]


@cache
def answers() -> dict[str, Any]:
    """This surface's answer models (asyncinfer.surfaces.answers: made when the document is)."""
    Response = answer(
        "Response",
        shared().Open,
        id=(str, Field(examples=["resp_0190a5d27b3c7d4e8f001a2b3c4d5e6f"])),
        object=Literal["response"],
        created_at=int,
        status=Status,
        background=bool,
        model=str,
        output=list[dict[str, Any]],
    )
    Deleted = answer("ResponseDeleted", id=str, object=Literal["response"], deleted=bool)
    InputItem = answer("ResponseInputItem", shared().Open, id=str, type=Literal["message"], role=str)
    InputItems = openai_list_of("ResponseInputItemList", InputItem)
    return {"Response": Response, "Deleted": Deleted, "InputItems": InputItems}


Response, Deleted, InputItems = later(answers, "Response", "Deleted", "InputItems")
Stream = Annotated[str | None, Query(description="true: the response's events as Server-Sent Events")]
StartingAfter = Annotated[str | None, Query(description="With stream=true: the events after this sequence number")]
Order = Annotated[str | None, Query(json_schema_extra={"enum": ["asc", "desc"]})]
After = Annotated[str | None, Query()]
Limit = Annotated[str | None, Query(json_schema_extra={"type": "integer", "minimum": 1, "maximum": 100})]

router = Router()

EXAMPLE = {"model": "demo-chat", "input": "Write a haiku about queues.", "background": True}


def task_id_of(public: str) -> str:
    """The task behind a response id (any chat surface's spelling of a task id reads here too)."""
    return ids.parse_any(public)


def request_of(svc: TaskService, task: Task) -> dict[str, Any] | None:
    """The task's stored chat request (kept inline, or in S3 when large)."""
    if task.request is not None:
        return task.request
    stored = svc.blobs.get(task.request_key) if task.request_key else None
    return json.loads(stored) if stored else None


def not_found() -> TaskNotFound:
    return TaskNotFound("No response with that id")


def _task(svc: TaskService, public: str) -> Task:
    try:
        return svc.get(tenant_of(router), task_id_of(public), CHAT_KINDS)
    except TaskNotFound:
        raise not_found() from None


def stream_asked(value: Any) -> bool:
    """`stream` as the SDK sends it: in a body, a boolean; in a query, `true` or `false`."""
    return value is True or (isinstance(value, str) and value.lower() == "true")


def starting_after(value: str | None) -> int:
    """`starting_after` (a sequence number the stream sent): -1, from the start, when absent."""
    if value is None:
        return -1
    if not value.isascii() or not value.isdigit() or len(value) > 10:
        raise InvalidRequest("starting_after must be the sequence_number of an event (a non-negative integer)")
    return int(value)


@route(
    router,
    "POST",
    "/v1/responses",
    "Create a response (in the background)",
    TAG,
    ok=Response,
    takes_body=True,
    example=EXAMPLE,
    waits=Response,
    description="`background` must be true: every response runs in the background on the task engine. With "
    "`stream: true` the answer is the response's events as Server-Sent Events from its creation (a `Prefer: wait` "
    "is then moot: the events say when it ends).",
)
def create_response(
    svc: Tasks,
    request: body(responses.ResponsesRequest),
    idempotency_key: IdempotencyKey = None,
    start_timeout: StartTimeout = None,
    cancel_after: CancelAfter = None,
    prefer: Prefer = None,
):  # a Response when it waited: Preference-Applied is a header
    chat = responses.chat_body_of(request, svc.registry.default_chat())
    how = submission("responses", idempotency_key, start_timeout, cancel_after)
    task = submit(router, svc.submit_chat, chat, how)
    return waited(
        svc,
        task,
        None if stream_asked(request.get("stream")) else prefer,
        lambda now: responses.response_object(now, request_of(svc, now), None),
        lambda view: responses.response_object(view.task, request_of(svc, view.task), view.result),
    )


@route(
    router,
    "GET",
    "/v1/responses/{id}",
    "Retrieve a response",
    TAG,
    ok=Response,
    poll_hint=True,
    description="With `stream=true`: its events as Server-Sent Events (after `starting_after`, to resume).",
)
def get_response(id: Id, svc: Tasks, stream: Stream = None, starting_after: StartingAfter = None):
    view = svc.view(_task(svc, id))
    return read_response(view, lambda v: responses.response_object(v.task, request_of(svc, v.task), v.result))


@route(router, "POST", "/v1/responses/{id}/cancel", "Cancel a response", TAG, ok=Response)
def cancel_response(id: Id, svc: Tasks) -> dict:
    task = _task(svc, id)
    ended = svc.cancel(task.tenant, task.id)
    return responses.response_object(ended, request_of(svc, ended), svc.view(ended).result)


@route(router, "DELETE", "/v1/responses/{id}", "Delete a response", TAG, ok=Deleted)
def delete_response(id: Id, svc: Tasks) -> dict:
    task = _task(svc, id)
    svc.delete(task.tenant, task.id)
    return {"id": responses.response_id(task.id), "object": "response", "deleted": True}


@route(router, "GET", "/v1/responses/{id}/input_items", "List a response's input items", TAG, ok=InputItems)
def list_input_items(id: Id, svc: Tasks, limit: Limit = None, order: Order = None, after: After = None) -> dict:
    task = _task(svc, id)
    items = responses.input_items(task, request_of(svc, task))
    if order not in (None, "asc", "desc"):
        raise InvalidRequest("order must be asc or desc")
    if order != "asc":
        items.reverse()  # OpenAI lists input items newest first unless asked otherwise
    if after is not None:
        at = [item["id"] for item in items].index(after) if after in {i["id"] for i in items} else None
        if at is None:
            raise InvalidRequest("after is not the id of one of this response's input items")
        items = items[at + 1 :]
    if limit is not None and (not limit.isascii() or not limit.isdigit() or not 1 <= int(limit) <= 100):
        raise InvalidRequest("limit must be an integer between 1 and 100")
    size = int(limit) if limit else 20
    return openai_list(items[:size], len(items) > size)
