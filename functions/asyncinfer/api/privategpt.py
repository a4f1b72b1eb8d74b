"""The PrivateGPT surface: POST /v1/messages/async, GET .../{id}/status, POST .../{id}/cancel,
DELETE .../{id}. Its /stream route is served by the streaming function."""

from __future__ import annotations

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.metrics import MetricUnit

from asyncinfer.api.deps import Tasks
from asyncinfer.domain.errors import TaskNotFound
from asyncinfer.domain.model import CHAT_KINDS, Task
from asyncinfer.domain.requests import parse_json_body
from asyncinfer.http import raw_body, tenant_of
from asyncinfer.observability import metrics
from asyncinfer.tasks.dialects import privategpt
from asyncinfer.tasks.service import TaskService
from asyncinfer.tasks.submission import Submission

router = Router()


def _task(svc: TaskService, public: str) -> Task:
    tenant = tenant_of(router)
    try:
        task_id = privategpt.task_id_of(public, lambda name: svc.named(tenant, name))
        return svc.get(tenant, task_id, CHAT_KINDS)
    except TaskNotFound:
        raise privategpt.not_found() from None


@router.post("/v1/messages/async")
def submit(svc: Tasks) -> dict:
    query = router.current_event.query_string_parameters or {}
    message_id = privategpt.check_message_id(query.get("message_id"))
    body = parse_json_body(raw_body(router), svc.limits.max_request_bytes)
    chat = privategpt.chat_body(body, svc.registry.default_chat())
    how = Submission(
        surface="privategpt",
        idempotency_key=router.current_event.headers.get("idempotency-key"),
        message_id=message_id,
    )
    task = svc.submit_chat(tenant_of(router), chat, how)
    metrics.add_metric(name="TasksSubmitted", unit=MetricUnit.Count, value=1)
    return privategpt.initiated(task)


@router.get("/v1/messages/async/<message_id>/status")
def status(message_id: str, svc: Tasks) -> dict:
    return privategpt.status(_task(svc, message_id))


@router.post("/v1/messages/async/<message_id>/cancel")
def cancel(message_id: str, svc: Tasks) -> dict:
    task = _task(svc, message_id)
    return privategpt.status(svc.cancel(task.tenant, task.id))


@router.delete("/v1/messages/async/<message_id>")
def delete(message_id: str, svc: Tasks) -> dict:
    task = _task(svc, message_id)
    svc.delete(task.tenant, task.id)
    return {"message_id": privategpt.message_id(task), "deleted": True}
