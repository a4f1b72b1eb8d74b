"""The NetMind surface: POST/GET /v1/generation, GET/DELETE /v1/generation/{id}."""

from __future__ import annotations

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.metrics import MetricUnit

from asyncinfer.api.deps import Tasks
from asyncinfer.domain import ids
from asyncinfer.domain.model import MEDIA_KINDS
from asyncinfer.domain.requests import parse_json_body
from asyncinfer.http import raw_body, tenant_of
from asyncinfer.observability import metrics
from asyncinfer.tasks.dialects import netmind
from asyncinfer.tasks.submission import Submission

router = Router()


@router.post("/v1/generation")
def create(svc: Tasks) -> dict:
    body = parse_json_body(raw_body(router), svc.limits.max_request_bytes)
    how = Submission(surface="netmind", idempotency_key=router.current_event.headers.get("idempotency-key"))
    task = svc.submit_generation(tenant_of(router), body, how)
    metrics.add_metric(name="TasksSubmitted", unit=MetricUnit.Count, value=1)
    return netmind.generation(task, svc.download_url)


@router.get("/v1/generation")
def list_generations(svc: Tasks) -> dict:
    limit, after = ids.token_page(router.current_event.query_string_parameters or {})
    page = svc.list(tenant_of(router), limit=limit, after=after, status=None, kinds=MEDIA_KINDS)
    return netmind.listing(page, svc.download_url)


@router.get("/v1/generation/<generation_id>")
def get_generation(generation_id: str, svc: Tasks) -> dict:
    task = svc.get(tenant_of(router), ids.parse_any(generation_id), MEDIA_KINDS, deleted=True)
    return netmind.generation(task, svc.download_url)


@router.delete("/v1/generation/<generation_id>")
def delete_generation(generation_id: str, svc: Tasks) -> dict:
    task = svc.get(tenant_of(router), ids.parse_any(generation_id), MEDIA_KINDS)
    svc.delete(task.tenant, task.id)
    return netmind.DELETED
