"""Batches: POST/GET /v1/batches, GET /v1/batches/{id}, POST /v1/batches/{id}/cancel, POST /v1/batches/uploads."""

from __future__ import annotations

import uuid
from typing import Annotated

from aws_lambda_powertools.event_handler import Depends
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.metrics import MetricUnit

from asyncinfer.blobs.base import upload_key
from asyncinfer.domain import ids
from asyncinfer.domain.requests import parse_json_body
from asyncinfer.http import raw_body, tenant_of
from asyncinfer.observability import metrics
from asyncinfer.tasks.batches import Batches
from asyncinfer.tasks.dialects import batches as view
from asyncinfer.tasks.submission import Submission

router = Router()
UPLOAD_SECONDS = 3600


def batches() -> Batches:
    raise NotImplementedError("this function provides no batches")


BatchesService = Annotated[Batches, Depends(batches)]


@router.post("/v1/batches")
def create(svc: BatchesService) -> dict:
    body = parse_json_body(raw_body(router), svc.tasks.limits.max_request_bytes)
    how = Submission(surface="batch", idempotency_key=router.current_event.headers.get("idempotency-key"))
    batch = svc.create(tenant_of(router), body, how)
    metrics.add_metric(name="BatchesSubmitted", unit=MetricUnit.Count, value=1)
    return view.render(batch)


@router.post("/v1/batches/uploads")
def upload(svc: BatchesService) -> dict:
    """A presigned POST for a JSONL input file of at most the batch input limit, readable only by this
    tenant's batches: send `fields` and then the file as `file` in a multipart/form-data POST."""
    key = upload_key(tenant_of(router), uuid.uuid4().hex)
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


@router.get("/v1/batches")
def list_batches(svc: BatchesService) -> dict:
    limit, after = ids.page(router.current_event.query_string_parameters or {}, "cursor", view.internal_id)
    found, last = svc.list(tenant_of(router), limit=limit, after=after)
    return {
        "data": [view.render(b) for b in found],
        "has_more": last is not None,
        "next_cursor": view.public_id(last) if last else None,
    }


@router.get("/v1/batches/<batch_id>")
def get_batch(batch_id: str, svc: BatchesService) -> dict:
    batch = svc.get(tenant_of(router), view.internal_id(batch_id))
    return view.render(batch, svc.results_url(batch))


@router.post("/v1/batches/<batch_id>/cancel")
def cancel_batch(batch_id: str, svc: BatchesService) -> dict:
    return view.render(svc.cancel(tenant_of(router), view.internal_id(batch_id)))
