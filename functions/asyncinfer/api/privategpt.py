"""The PrivateGPT surface: POST /v1/messages/async, GET .../{id}/status, POST .../{id}/cancel,
DELETE .../{id}. Its /stream route is served by the streaming function (asyncinfer.api.streams)."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query

from asyncinfer.api.contract import CancelAfter, Id, IdempotencyKey, StartTimeout, body, read, route
from asyncinfer.api.deps import Tasks
from asyncinfer.api.shapes import PGPT_STATUS, obj, scheduled
from asyncinfer.domain.errors import TaskNotFound
from asyncinfer.domain.model import CHAT_KINDS
from asyncinfer.http import submission, submit, tenant_of
from asyncinfer.tasks.dialects import privategpt
from asyncinfer.tasks.dialects.privategpt import MessagesRequest
from asyncinfer.tasks.reads import TaskRead
from asyncinfer.tasks.service import TaskService

router = Router()
READ = scheduled(PGPT_STATUS, {"type": ["string", "null"], "format": "date-time"})
TAG = "PrivateGPT"
MessageId = Annotated[str | None, Query(json_schema_extra={"maxLength": 128})]


def _read(svc: TaskService, public: str) -> TaskRead:
    tenant = tenant_of(router)
    try:
        task_id = privategpt.task_id_of(public, lambda name: svc.named(tenant, name))
        return svc.read(tenant, task_id, CHAT_KINDS)
    except TaskNotFound:
        raise privategpt.not_found() from None


@route(
    router,
    "POST",
    "/v1/messages/async",
    "Initiate an async message",
    TAG,
    ok=obj(message_id={"type": "string"}, status={"type": "string"}, message={"type": "string"}),
    takes_body=True,
)
def submit_message(
    svc: Tasks,
    request: body(MessagesRequest),
    message_id: MessageId = None,
    idempotency_key: IdempotencyKey = None,
    start_timeout: StartTimeout = None,
    cancel_after: CancelAfter = None,
) -> dict:
    name = privategpt.check_message_id(message_id)
    chat = privategpt.chat_body(request, svc.registry.default_chat())
    how = submission("privategpt", idempotency_key, start_timeout, cancel_after, message_id=name)
    return privategpt.initiated(submit(router, svc.submit_chat, chat, how))


@route(router, "GET", "/v1/messages/async/{id}/status", "Get a message's status", TAG, ok=READ, poll_hint=True)
def status(id: Id, svc: Tasks):  # a Response: the poll hint is a header
    return read(_read(svc, id), privategpt.read)


@route(router, "POST", "/v1/messages/async/{id}/cancel", "Cancel a message", TAG, ok=PGPT_STATUS)
def cancel(id: Id, svc: Tasks) -> dict:
    task = _read(svc, id).task
    return privategpt.status(svc.cancel(task.tenant, task.id))


@route(
    router,
    "DELETE",
    "/v1/messages/async/{id}",
    "Delete a message",
    TAG,
    ok=obj(message_id={"type": "string"}, deleted={"type": "boolean"}),
)
def delete(id: Id, svc: Tasks) -> dict:
    task = _read(svc, id).task
    svc.delete(task.tenant, task.id)
    return {"message_id": privategpt.message_id(task), "deleted": True}
