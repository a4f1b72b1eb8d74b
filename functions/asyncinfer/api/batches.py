"""Batches: POST/GET /v1/batches, GET /v1/batches/{id}, POST /v1/batches/{id}/cancel, POST /v1/batches/uploads."""

from __future__ import annotations

import uuid
from typing import Annotated

from aws_lambda_powertools.event_handler import Depends
from aws_lambda_powertools.event_handler.api_gateway import Router

from asyncinfer.api.contract import (
    Cursor,
    Id,
    IdempotencyKey,
    Limit,
    body,
    openai_list,
    openai_list_shape,
    present,
    route,
)
from asyncinfer.api.shapes import BATCH, obj
from asyncinfer.blobs.base import upload_key
from asyncinfer.domain import ids
from asyncinfer.domain.batches import BatchRequest
from asyncinfer.http import submission, submit, tenant_of
from asyncinfer.tasks.batches import Batches
from asyncinfer.tasks.dialects import batches as view

router = Router()
TAG = "Batches"
UPLOAD_SECONDS = 3600


def batches() -> Batches:
    raise NotImplementedError("this function provides no batches")


BatchesService = Annotated[Batches, Depends(batches)]


@route(
    router,
    "POST",
    "/v1/batches",
    "Submit a batch (one task per request)",
    TAG,
    ok=BATCH,
    description="Inline `requests`, an `input_file` (s3:// JSONL of `{custom_id, body}`), or OpenAI's "
    "`input_file_id` (POST /v1/files) with `endpoint: /v1/chat/completions` and `completion_window: 24h`. Every "
    "body is checked as its own submit would be; duplicate custom_ids are refused (400 duplicate_custom_id).",
    takes_body=True,
)
def create(svc: BatchesService, request: body(BatchRequest), idempotency_key: IdempotencyKey = None) -> dict:
    how = submission("batch", idempotency_key)
    return view.render(submit(router, svc.create, request, how, counted="BatchesSubmitted"))


@route(
    router,
    "POST",
    "/v1/batches/uploads",
    "Get a presigned POST (URL and form fields) for a batch input file of at most max_bytes",
    TAG,
    ok=obj(
        input_file={"type": "string"},
        upload_url={"type": "string", "format": "uri"},
        method={"type": "string"},
        fields={"type": "object", "additionalProperties": {"type": "string"}},
        max_bytes={"type": "integer"},
        expires_in={"type": "integer"},
    ),
)
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


@route(
    router,
    "GET",
    "/v1/batches",
    "List batches, newest first",
    TAG,
    ok=openai_list_shape(
        BATCH, next_cursor={"type": ["string", "null"], "description": "The same as last_id while has_more"}
    ),
    description="Pages go on `after` the last id of the previous one (OpenAI's cursor; `cursor` is the same).",
)
def list_batches(svc: BatchesService, limit: Limit = None, cursor: Cursor = None, after: Cursor = None) -> dict:
    name = "after" if after is not None else "cursor"
    limit_, start = ids.page(
        present(limit=limit, **{name: after if after is not None else cursor}), name, view.internal_id
    )
    found, last = svc.list(tenant_of(router), limit=limit_, after=start)
    data = [view.render(b) for b in found]
    return openai_list(data, last is not None, next_cursor=view.public_id(last) if last else None)


@route(router, "GET", "/v1/batches/{id}", "Get a batch: status, counts, results URL", TAG, ok=BATCH)
def get_batch(id: Id, svc: BatchesService) -> dict:
    batch = svc.get(tenant_of(router), view.internal_id(id))
    return view.render(batch, svc.results_url(batch))


@route(router, "POST", "/v1/batches/{id}/cancel", "Cancel a batch (its unfinished items)", TAG, ok=BATCH)
def cancel_batch(id: Id, svc: BatchesService) -> dict:
    return view.render(svc.cancel(tenant_of(router), view.internal_id(id)))
