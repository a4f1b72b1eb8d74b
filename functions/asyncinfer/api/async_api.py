"""The Async API surface: POST/GET /v1/async, GET/DELETE /v1/async/{id}, POST /v1/async/{id}/cancel."""

from __future__ import annotations

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.metrics import MetricUnit

from asyncinfer.api.deps import Tasks
from asyncinfer.domain.model import CHAT_KINDS
from asyncinfer.domain.requests import parse_json_body
from asyncinfer.http import raw_body, tenant_of
from asyncinfer.observability import logger, metrics
from asyncinfer.tasks.dialects import async_api
from asyncinfer.tasks.submission import Submission

router = Router()


@router.post("/v1/async")
def submit(svc: Tasks) -> dict:
    body = parse_json_body(raw_body(router), svc.limits.max_request_bytes)
    how = Submission(surface="async", idempotency_key=router.current_event.headers.get("idempotency-key"))
    task = svc.submit_chat(tenant_of(router), body, how)
    logger.set_correlation_id(async_api.public_id(task.id))
    metrics.add_metric(name="TasksSubmitted", unit=MetricUnit.Count, value=1)
    return async_api.summary(task)


@router.get("/v1/async")
def list_tasks(svc: Tasks) -> dict:
    limit, after, status = async_api.list_params(router.current_event.query_string_parameters or {})
    return async_api.listing(svc.list(tenant_of(router), limit=limit, after=after, status=status, kinds=CHAT_KINDS))


@router.get("/v1/async/<task_id>")
def get_task(task_id: str, svc: Tasks) -> dict:
    task = svc.get(tenant_of(router), async_api.internal_id(task_id), CHAT_KINDS)
    return async_api.detail(task, svc.result(task))


@router.post("/v1/async/<task_id>/cancel")
def cancel_task(task_id: str, svc: Tasks) -> dict:
    task = svc.get(tenant_of(router), async_api.internal_id(task_id), CHAT_KINDS)  # what GET sees, or 404
    return async_api.summary(svc.cancel(task.tenant, task.id))


@router.delete("/v1/async/<task_id>")
def delete_task(task_id: str, svc: Tasks) -> dict:
    task = svc.get(tenant_of(router), async_api.internal_id(task_id), CHAT_KINDS)  # what GET sees, or 404
    svc.delete(task.tenant, task.id)
    return {"id": async_api.public_id(task.id), "deleted": True}
