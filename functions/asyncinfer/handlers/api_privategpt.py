"""The PrivateGPT surface: POST /v1/messages/async, GET .../{id}/status, POST .../{id}/cancel,
DELETE .../{id}. Its /stream route is served by the streaming function."""

from __future__ import annotations

from aws_lambda_powertools.metrics import MetricUnit

from asyncinfer.config import ApiSettings
from asyncinfer.domain.errors import TaskNotFound
from asyncinfer.domain.model import CHAT_KINDS, Task
from asyncinfer.domain.requests import parse_json_body
from asyncinfer.handlers.shared import entry_point, service
from asyncinfer.http import build_resolver, raw_body, tenant_of
from asyncinfer.observability import metrics
from asyncinfer.tasks.dialects import privategpt
from asyncinfer.tasks.submission import Submission

app = build_resolver()

SETTINGS = ApiSettings  # the infra tests check each deployed environment against it


def _task(public: str) -> Task:
    svc = service()
    tenant = tenant_of(app)
    try:
        return svc.get(tenant, privategpt.task_id_of(svc.store, tenant, public), CHAT_KINDS)
    except TaskNotFound:
        raise privategpt.not_found() from None


@app.post("/v1/messages/async")
def submit() -> dict:
    svc = service()
    query = app.current_event.query_string_parameters or {}
    message_id = privategpt.check_message_id(query.get("message_id"))
    body = parse_json_body(raw_body(app), svc.limits.max_request_bytes)
    chat = privategpt.chat_body(body, svc.registry.default_chat())
    how = Submission(
        surface="privategpt",
        idempotency_key=app.current_event.headers.get("idempotency-key"),
        message_id=message_id,
    )
    task = svc.submit_chat(tenant_of(app), chat, how)
    metrics.add_metric(name="TasksSubmitted", unit=MetricUnit.Count, value=1)
    return privategpt.initiated(task)


@app.get("/v1/messages/async/<message_id>/status")
def status(message_id: str) -> dict:
    return privategpt.status(_task(message_id))


@app.post("/v1/messages/async/<message_id>/cancel")
def cancel(message_id: str) -> dict:
    task = _task(message_id)
    return privategpt.status(service().cancel(task.tenant, task.id))


@app.delete("/v1/messages/async/<message_id>")
def delete(message_id: str) -> dict:
    task = _task(message_id)
    service().delete(task.tenant, task.id)
    return {"message_id": privategpt.message_id(task), "deleted": True}


lambda_handler = entry_point(app)
