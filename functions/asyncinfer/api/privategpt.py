"""The PrivateGPT surface: POST /v1/messages/async, GET .../{id}/status, POST .../{id}/cancel,
DELETE .../{id}. Its /stream route is served by the streaming function (asyncinfer.api.streams)."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.metrics import MetricUnit

from asyncinfer.api.contract import CancelAfter, Id, IdempotencyKey, StartTimeout, body, read, route
from asyncinfer.api.deps import Tasks
from asyncinfer.api.shapes import PGPT_STATUS, obj, scheduled
from asyncinfer.domain.client_json import parse_json_body
from asyncinfer.domain.errors import TaskNotFound
from asyncinfer.domain.model import CHAT_KINDS, Task
from asyncinfer.http import raw_body, submission, tenant_of
from asyncinfer.observability import metrics
from asyncinfer.tasks.dialects import privategpt, scheduling
from asyncinfer.tasks.dialects.async_api import iso
from asyncinfer.tasks.dialects.privategpt import MessagesRequest
from asyncinfer.tasks.service import TaskService

router = Router()
READ = scheduled(PGPT_STATUS, {"type": ["string", "null"], "format": "date-time"})
TAG = "PrivateGPT"
MessageId = Annotated[str | None, Query(json_schema_extra={"maxLength": 128})]


def _task(svc: TaskService, public: str) -> Task:
    tenant = tenant_of(router)
    try:
        task_id = privategpt.task_id_of(public, lambda name: svc.named(tenant, name))
        return svc.get(tenant, task_id, CHAT_KINDS)
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
def submit(
    svc: Tasks,
    request: body(MessagesRequest) = None,
    message_id: MessageId = None,
    idempotency_key: IdempotencyKey = None,
    start_timeout: StartTimeout = None,
    cancel_after: CancelAfter = None,
) -> dict:
    query = router.current_event.query_string_parameters or {}
    name = privategpt.check_message_id(query.get("message_id"))
    parsed = parse_json_body(raw_body(router), svc.limits.max_request_bytes)
    chat = privategpt.chat_body(parsed, svc.registry.default_chat())
    task = svc.submit_chat(tenant_of(router), chat, submission(router, "privategpt", message_id=name))
    metrics.add_metric(name="TasksSubmitted", unit=MetricUnit.Count, value=1)
    return privategpt.initiated(task)


@route(router, "GET", "/v1/messages/async/{id}/status", "Get a message's status", TAG, ok=READ, poll_hint=True)
def status(id: Id, svc: Tasks):  # a Response: the poll hint is a header
    task = _task(svc, id)
    when = scheduling.fields(task, svc.standing(task), iso)
    return read({**privategpt.status(task), **when}, svc.poll_after_ms(task))


@route(router, "POST", "/v1/messages/async/{id}/cancel", "Cancel a message", TAG, ok=PGPT_STATUS)
def cancel(id: Id, svc: Tasks) -> dict:
    task = _task(svc, id)
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
    task = _task(svc, id)
    svc.delete(task.tenant, task.id)
    return {"message_id": privategpt.message_id(task), "deleted": True}
