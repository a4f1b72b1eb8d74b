"""The NetMind surface: POST/GET /v1/generation, GET/DELETE /v1/generation/{id}."""

from __future__ import annotations

from aws_lambda_powertools.metrics import MetricUnit

from asyncinfer.config import ApiSettings
from asyncinfer.domain import ids
from asyncinfer.domain.model import MEDIA_KINDS
from asyncinfer.domain.requests import parse_json_body
from asyncinfer.handlers.shared import entry_point, service
from asyncinfer.http import build_resolver, raw_body, tenant_of
from asyncinfer.observability import metrics
from asyncinfer.tasks.dialects import netmind
from asyncinfer.tasks.submission import Submission

app = build_resolver()

SETTINGS = ApiSettings  # the infra tests check each deployed environment against it


@app.post("/v1/generation")
def create() -> dict:
    svc = service()
    body = parse_json_body(raw_body(app), svc.limits.max_request_bytes)
    how = Submission(surface="netmind", idempotency_key=app.current_event.headers.get("idempotency-key"))
    task = svc.submit_generation(tenant_of(app), body, how)
    metrics.add_metric(name="TasksSubmitted", unit=MetricUnit.Count, value=1)
    return netmind.generation(task, svc.download_url)


@app.get("/v1/generation")
def list_generations() -> dict:
    svc = service()
    limit, after = ids.token_page(app.current_event.query_string_parameters or {})
    page = svc.list(tenant_of(app), limit=limit, after=after, status=None, kinds=MEDIA_KINDS)
    return netmind.listing(page, svc.download_url)


@app.get("/v1/generation/<generation_id>")
def get_generation(generation_id: str) -> dict:
    svc = service()
    task = svc.get(tenant_of(app), ids.parse_any(generation_id), MEDIA_KINDS, deleted=True)
    return netmind.generation(task, svc.download_url)


@app.delete("/v1/generation/<generation_id>")
def delete_generation(generation_id: str) -> dict:
    svc = service()
    task = svc.get(tenant_of(app), ids.parse_any(generation_id), MEDIA_KINDS)
    svc.delete(task.tenant, task.id)
    return netmind.DELETED


lambda_handler = entry_point(app)
