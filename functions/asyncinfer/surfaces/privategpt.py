"""The PrivateGPT async messages surface (reference 001): POST /v1/messages/async, GET .../{id}/status, POST
.../{id}/cancel, DELETE .../{id}; client-chosen or generated `message_id`s, lower-case statuses, and a stream of
OpenAI chat-completion chunks (GET .../{id}/stream, served by the streaming function: asyncinfer.surfaces.streams)."""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from asyncinfer.domain import ids
from asyncinfer.domain.errors import InvalidRequest, TaskNotFound
from asyncinfer.domain.model import CHAT_KINDS, LOWERCASE_STATUS, Task
from asyncinfer.domain.requests import (
    MAX_CORRELATION_ID,
    MAX_MCP_SERVERS,
    McpServer,
    Message,
    check_chat_body,
    validation_message,
)
from asyncinfer.surfaces.answers import answer, later, timed
from asyncinfer.surfaces.async_ids import iso
from asyncinfer.surfaces.contract import (
    CancelAfter,
    Id,
    IdempotencyKey,
    Prefer,
    StartTimeout,
    Tasks,
    body,
    read_response,
    route,
)
from asyncinfer.surfaces.edge import submission, submit, tenant_of, waited
from asyncinfer.surfaces.privategpt_ids import CUSTOM_ID, not_found, task_id_of
from asyncinfer.surfaces.routing import Query, Router
from asyncinfer.tasks.reads import TaskRead
from asyncinfer.tasks.service import TaskService

STATUS = LOWERCASE_STATUS
STREAM_TYPE = "sse"


class InvalidMessageId(InvalidRequest):
    code = "invalid_message_id"


class MessagesRequest(BaseModel):
    """The page's request body. Typed fields are checked strictly; everything is kept for the provider."""

    model_config = ConfigDict(strict=True, extra="allow", defer_build=True)  # built by the first submit

    messages: list[Message] = Field(min_length=1)
    model: str | None = Field(default=None, min_length=1, max_length=256)
    stream: bool = False
    tools: list[dict[str, Any]] | None = None
    tool_choice: dict[str, Any] | str | None = None
    tool_context: list[Any] | None = None
    mcp_servers: list[McpServer] | None = Field(default=None, max_length=MAX_MCP_SERVERS)
    response_format: dict[str, Any] | None = None
    system: dict[str, Any] | None = None
    thinking: dict[str, Any] | None = None
    priority: int | None = None
    seed: int | None = None
    min_p: float | None = None
    top_p: float | None = None
    temperature: float | None = None
    top_k: int | None = None
    repetition_penalty: float | None = None
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    max_tokens: int | None = Field(default=None, ge=1)
    correlation_id: str | None = Field(default=None, max_length=MAX_CORRELATION_ID)


def chat_body(body: dict[str, Any], default_model: str) -> dict[str, Any]:
    """The stored chat request: the body as sent, with the default model filled in. `stream` only says
    how the client wants to watch it, which the /stream route decides, so it is dropped."""
    check_chat_body(body)
    try:
        parsed = MessagesRequest.model_validate(body)
    except ValidationError as exc:
        raise InvalidRequest(validation_message(exc)) from None
    out = {k: v for k, v in body.items() if k != "stream"}
    out["model"] = parsed.model or default_model
    return out


def check_message_id(value: str | None) -> str | None:
    if value is None:
        return None
    # A message_id of a task id's form would shadow that task on this surface (names are looked up first).
    if not CUSTOM_ID.match(value) or ids.spells_a_task_id(value):
        raise InvalidMessageId(
            "message_id is 1 to 128 characters of letters, digits and . _ : -, and not of the form of a task id "
            "(task_<uuid>, <uuid>, msg_<32 hex>, <32 hex>)"
        )
    return value


def message_id(task: Task) -> str:
    return task.public_name or f"msg_{task.id}"


def initiated(task: Task) -> dict[str, Any]:
    return {"message_id": message_id(task), "status": STATUS[task.status], "message": "Request initiated successfully"}


def status(task: Task) -> dict[str, Any]:
    metadata: dict[str, Any] = {"model": task.model, **task.metadata}
    if task.correlation_id:
        metadata["correlation_id"] = task.correlation_id
    error_message = task.error.message if task.error else None
    return {
        "message_id": message_id(task),
        "status": STATUS[task.status],
        "created_at": iso(task.created_at),
        "updated_at": iso(task.updated_at),
        "completed_at": iso(task.completed_at) if task.completed_at else None,
        "error_message": error_message,
        "stream_type": STREAM_TYPE,
        "metadata": metadata,
    }


def read(view: TaskRead) -> dict[str, Any]:
    return {**status(view.task), **view.timing(iso)}


State = Literal["pending", "processing", "completed", "failed", "cancelled", "error"]


@cache
def answers() -> dict[str, Any]:
    """This surface's answer models (asyncinfer.surfaces.answers: made when the document is)."""
    Initiated = answer("PrivateGPTInitiated", message_id=str, status=State, message=str)
    Status = answer(
        "PrivateGPTStatus",
        message_id=str,
        status=State,
        created_at=datetime,
        updated_at=datetime,
        completed_at=datetime | None,
        error_message=str | None,
        stream_type=Literal["sse"],
        metadata=dict[str, Any],
    )
    Read = answer("PrivateGPTRead", timed(datetime), Status)
    Deleted = answer("PrivateGPTDeleted", message_id=str, deleted=bool)
    return {"Initiated": Initiated, "Status": Status, "Read": Read, "Deleted": Deleted}


Initiated, Status, Read, Deleted = later(answers, "Initiated", "Status", "Read", "Deleted")
router = Router()
TAG = "PrivateGPT"
MessageId = Annotated[str | None, Query(json_schema_extra={"maxLength": 128})]


def _read(svc: TaskService, public: str) -> TaskRead:
    tenant = tenant_of(router)
    try:
        return svc.read(tenant, task_id_of(public, lambda name: svc.named(tenant, name)), CHAT_KINDS)
    except TaskNotFound:
        raise not_found() from None


# The submit's request example (Swagger UI's "Try it out" sends it; built from the schema it would be refused): the
# provider's reference request, with a model the packaged registry serves quickly.
EXAMPLE = {
    "messages": [{"role": "user", "content": "Summarize our Q3 report in three bullet points."}],
    "temperature": 0.2,
    "max_tokens": 512,
}


@route(
    router,
    "POST",
    "/v1/messages/async",
    "Initiate an async message",
    TAG,
    ok=Initiated,
    takes_body=True,
    example=EXAMPLE,
    waits=Read,
)
def submit_message(
    svc: Tasks,
    request: body(MessagesRequest),
    message_id: MessageId = None,
    idempotency_key: IdempotencyKey = None,
    start_timeout: StartTimeout = None,
    cancel_after: CancelAfter = None,
    prefer: Prefer = None,
):  # a Response when it waited: Preference-Applied is a header
    name = check_message_id(message_id)
    chat = chat_body(request, svc.registry.default_chat())
    how = submission("privategpt", idempotency_key, start_timeout, cancel_after, message_id=name)
    return waited(svc, submit(router, svc.submit_chat, chat, how), prefer, initiated, read)


@route(router, "GET", "/v1/messages/async/{id}/status", "Get a message's status", TAG, ok=Read, poll_hint=True)
def get_status(id: Id, svc: Tasks):  # a Response: the poll hint is a header
    return read_response(_read(svc, id), read)


@route(router, "POST", "/v1/messages/async/{id}/cancel", "Cancel a message", TAG, ok=Status)
def cancel(id: Id, svc: Tasks) -> dict:
    task = _read(svc, id).task
    return status(svc.cancel(task.tenant, task.id))


@route(router, "DELETE", "/v1/messages/async/{id}", "Delete a message", TAG, ok=Deleted)
def delete(id: Id, svc: Tasks) -> dict:
    task = _read(svc, id).task
    svc.delete(task.tenant, task.id)
    return {"message_id": message_id(task), "deleted": True}
