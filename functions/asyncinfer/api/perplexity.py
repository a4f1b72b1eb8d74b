"""The Perplexity surface: POST/GET /async/chat/completions, GET /async/chat/completions/{id}; and the same at
Perplexity's current paths, POST/GET /v1/async/sonar and GET /v1/async/sonar/{id}, on the same tasks."""

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
from asyncinfer.api.shapes import PPLX, obj, scheduled
from asyncinfer.domain import ids
from asyncinfer.domain.model import CHAT_KINDS
from asyncinfer.http import submission, submit, tenant_of
from asyncinfer.tasks.dialects import perplexity
from asyncinfer.tasks.dialects.perplexity import SubmitBody

router = Router()
READ = scheduled(PPLX, {"type": ["integer", "null"]})
TAG = "Perplexity"


@route(router, "POST", "/v1/async/sonar", "Submit an async chat completion", TAG, ok=PPLX, takes_body=True)
@route(router, "POST", "/async/chat/completions", "Submit an async chat completion", TAG, ok=PPLX, takes_body=True)
def submit_request(
    svc: Tasks,
    request: body(SubmitBody),
    idempotency_key: IdempotencyKey = None,
    start_timeout: StartTimeout = None,
    cancel_after: CancelAfter = None,
) -> dict:
    chat, key = perplexity.parse_submit(request, idempotency_key)
    how = submission("perplexity", key, start_timeout, cancel_after)
    return perplexity.read(svc.view(submit(router, svc.submit_chat, chat, how)))


LISTING = obj(requests={"type": "array", "items": PPLX}, next_token={"type": ["string", "null"]})


@route(router, "GET", "/v1/async/sonar", "List async chat completions", TAG, ok=LISTING)
@route(router, "GET", "/async/chat/completions", "List async chat completions", TAG, ok=LISTING)
def list_requests(svc: Tasks, limit: Limit = None, next_token: NextToken = None) -> dict:
    limit_, after = ids.token_page(present(limit=limit, next_token=next_token))
    return perplexity.listing(svc.list(tenant_of(router), limit=limit_, after=after, status=None, kinds=CHAT_KINDS))


@route(router, "GET", "/v1/async/sonar/{id}", "Get an async chat completion", TAG, ok=READ, poll_hint=True)
@route(router, "GET", "/async/chat/completions/{id}", "Get an async chat completion", TAG, ok=READ, poll_hint=True)
def get_request(id: Id, svc: Tasks):  # a Response: the poll hint is a header
    return read(svc.read(tenant_of(router), ids.parse_any(id), CHAT_KINDS), perplexity.read)
