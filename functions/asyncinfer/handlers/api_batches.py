"""Batches: POST/GET /v1/batches, GET /v1/batches/{id}, POST /v1/batches/{id}/cancel, POST /v1/batches/uploads."""

from __future__ import annotations

import uuid

from aws_lambda_powertools.metrics import MetricUnit

from asyncinfer import wiring
from asyncinfer.blobs.base import upload_key
from asyncinfer.config import BatchSettings
from asyncinfer.domain.errors import InvalidRequest, TaskNotFound
from asyncinfer.domain.requests import parse_json_body, parse_limit
from asyncinfer.handlers.shared import entry_point
from asyncinfer.http import build_resolver, raw_body, tenant_of
from asyncinfer.observability import metrics
from asyncinfer.tasks.batches import Batches
from asyncinfer.tasks.dialects import batches as view
from asyncinfer.tasks.submission import Submission

app = build_resolver()

SETTINGS = BatchSettings  # the infra tests check each deployed environment against it
UPLOAD_SECONDS = 3600


@wiring.cached
def batches() -> Batches:
    return wiring.batches(SETTINGS())


@app.post("/v1/batches")
def create() -> dict:
    svc = batches()
    body = parse_json_body(raw_body(app), svc.tasks.limits.max_request_bytes)
    how = Submission(surface="batch", idempotency_key=app.current_event.headers.get("idempotency-key"))
    batch = svc.create(tenant_of(app), body, how)
    metrics.add_metric(name="BatchesSubmitted", unit=MetricUnit.Count, value=1)
    return view.render(batch)


@app.post("/v1/batches/uploads")
def upload() -> dict:
    """A presigned POST for a JSONL input file of at most the batch input limit, readable only by this
    tenant's batches: send `fields` and then the file as `file` in a multipart/form-data POST."""
    svc = batches()
    key = upload_key(tenant_of(app), uuid.uuid4().hex)
    url, fields = svc.tasks.blobs.presigned_upload(
        key, UPLOAD_SECONDS, "application/x-ndjson", svc.limits.max_input_bytes
    )
    return {
        "input_file": f"s3://{svc.limits.own_bucket}/{key}",
        "upload_url": url,
        "method": "POST",
        "fields": fields,
        "max_bytes": svc.limits.max_input_bytes,
        "expires_in": UPLOAD_SECONDS,
    }


@app.get("/v1/batches")
def list_batches() -> dict:
    params = app.current_event.query_string_parameters or {}
    limit = parse_limit(params)
    cursor = params.get("cursor") or None
    try:
        after = view.internal_id(cursor) if cursor else None
    except TaskNotFound:
        raise InvalidRequest("cursor is not a value returned as next_cursor") from None
    found, last = batches().list(tenant_of(app), limit=limit, after=after)
    return {
        "data": [view.render(b) for b in found],
        "has_more": last is not None,
        "next_cursor": view.public_id(last) if last else None,
    }


@app.get("/v1/batches/<batch_id>")
def get_batch(batch_id: str) -> dict:
    svc = batches()
    batch = svc.get(tenant_of(app), view.internal_id(batch_id))
    return view.render(batch, svc.results_url(batch))


@app.post("/v1/batches/<batch_id>/cancel")
def cancel_batch(batch_id: str) -> dict:
    return view.render(batches().cancel(tenant_of(app), view.internal_id(batch_id)))


lambda_handler = entry_point(app)
