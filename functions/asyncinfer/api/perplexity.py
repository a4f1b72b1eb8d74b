"""The Perplexity surface: POST/GET /async/chat/completions, GET /async/chat/completions/{id}; and the same at
Perplexity's current paths, POST/GET /v1/async/sonar and GET /v1/async/sonar/{id}, on the same tasks."""

from __future__ import annotations

import dataclasses

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
from asyncinfer.api.shapes import PPLX, obj, scheduled
from asyncinfer.domain import ids
from asyncinfer.domain.client_json import parse_json_body
from asyncinfer.domain.model import CHAT_KINDS
from asyncinfer.http import raw_body, submission, tenant_of
from asyncinfer.tasks.dialects import perplexity, scheduling
from asyncinfer.tasks.dialects.perplexity import SubmitBody

router = Router()
READ = scheduled(PPLX, {"type": ["integer", "null"]})
TAG = "Perplexity"


@route(router, "POST", "/v1/async/sonar", "Submit an async chat completion", TAG, ok=PPLX, takes_body=True)
@route(router, "POST", "/async/chat/completions", "Submit an async chat completion", TAG, ok=PPLX, takes_body=True)
def submit(
    svc: Tasks,
    request: body(SubmitBody) = None,
    idempotency_key: IdempotencyKey = None,
    start_timeout: StartTimeout = None,
    cancel_after: CancelAfter = None,
) -> dict:
    parsed = parse_json_body(raw_body(router), svc.limits.max_request_bytes)
    chat, key = perplexity.parse_submit(parsed, router.current_event.headers.get("idempotency-key"))
    how = dataclasses.replace(submission(router, "perplexity"), idempotency_key=key)
    task = svc.submit_chat(tenant_of(router), chat, how)
    return {**perplexity.detail(task, svc.result(task)), **scheduling.fields(task, svc.standing(task), _seconds)}


def _seconds(ms: int) -> int:
    return ms // 1000


LISTING = obj(requests={"type": "array", "items": PPLX}, next_token={"type": ["string", "null"]})


@route(router, "GET", "/v1/async/sonar", "List async chat completions", TAG, ok=LISTING)
@route(router, "GET", "/async/chat/completions", "List async chat completions", TAG, ok=LISTING)
def list_requests(svc: Tasks, limit: Limit = None, next_token: NextToken = None) -> dict:
    limit_, after = ids.token_page(present(limit=limit, next_token=next_token))
    return perplexity.listing(svc.list(tenant_of(router), limit=limit_, after=after, status=None, kinds=CHAT_KINDS))


@route(router, "GET", "/v1/async/sonar/{id}", "Get an async chat completion", TAG, ok=READ, poll_hint=True)
@route(router, "GET", "/async/chat/completions/{id}", "Get an async chat completion", TAG, ok=READ, poll_hint=True)
def get_request(id: Id, svc: Tasks):  # a Response: the poll hint is a header
    task = svc.get(tenant_of(router), ids.parse_any(id), CHAT_KINDS)
    when = scheduling.fields(task, svc.standing(task), _seconds)
    return read({**perplexity.detail(task, svc.result(task)), **when}, svc.poll_after_ms(task))
