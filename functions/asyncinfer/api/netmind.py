"""The NetMind surface: POST/GET /v1/generation, GET/DELETE /v1/generation/{id}."""

from __future__ import annotations

from aws_lambda_powertools.event_handler.api_gateway import Router

from asyncinfer.api.contract import (
    CancelAfter,
    Id,
    IdempotencyKey,
    Limit,
    NextToken,
    StartTimeout,
    body,
    present,
    read,
    route,
)
from asyncinfer.api.deps import Tasks
from asyncinfer.api.shapes import GENERATION, obj, scheduled
from asyncinfer.domain import ids
from asyncinfer.domain.generation import GenerationRequest
from asyncinfer.domain.model import MEDIA_KINDS
from asyncinfer.http import submission, submit, tenant_of
from asyncinfer.tasks.dialects import netmind

router = Router()
TAG = "NetMind"


@route(
    router,
    "POST",
    "/v1/generation",
    "Create a generation (image, audio or video)",
    TAG,
    ok=GENERATION,
    description="`config` is an ImageConfig or an AudioConfig (see the schemas), by the model's kind.",
    takes_body=True,
)
def create(
    svc: Tasks,
    request: body(GenerationRequest),
    idempotency_key: IdempotencyKey = None,
    start_timeout: StartTimeout = None,
    cancel_after: CancelAfter = None,
) -> dict:
    how = submission("netmind", idempotency_key, start_timeout, cancel_after)
    return netmind.generation(submit(router, svc.submit_generation, request, how), svc.download_url)


@route(
    router,
    "GET",
    "/v1/generation",
    "List generations",
    TAG,
    ok=obj(generation_list={"type": "array", "items": GENERATION}, next_token={"type": "string"}),
)
def list_generations(svc: Tasks, limit: Limit = None, next_token: NextToken = None) -> dict:
    limit_, after = ids.token_page(present(limit=limit, next_token=next_token))
    page = svc.list(tenant_of(router), limit=limit_, after=after, status=None, kinds=MEDIA_KINDS)
    return netmind.listing(page, svc.download_url)


@route(
    router,
    "GET",
    "/v1/generation/{id}",
    "Get a generation, with fresh download URLs",
    TAG,
    ok=scheduled(GENERATION, {"type": ["string", "null"], "example": "2025-09-18 09:14:20"}),
    poll_hint=True,
)
def get_generation(id: Id, svc: Tasks):  # a Response: the poll hint is a header
    return read(svc.read(tenant_of(router), ids.parse_any(id), MEDIA_KINDS, deleted=True), netmind.read)


@route(
    router,
    "DELETE",
    "/v1/generation/{id}",
    "Delete a generation (soft; its files are deleted)",
    TAG,
    ok=obj(message={"type": "string", "example": "Generation deleted"}),
)
def delete_generation(id: Id, svc: Tasks) -> dict:
    task = svc.get(tenant_of(router), ids.parse_any(id), MEDIA_KINDS)
    svc.delete(task.tenant, task.id)
    return netmind.DELETED
