"""The Perplexity surface: POST/GET /async/chat/completions, GET /async/chat/completions/{id}."""

from __future__ import annotations

from aws_lambda_powertools.event_handler.api_gateway import Router

from asyncinfer.api.deps import Tasks
from asyncinfer.domain import ids
from asyncinfer.domain.model import CHAT_KINDS
from asyncinfer.domain.requests import parse_json_body
from asyncinfer.http import raw_body, tenant_of
from asyncinfer.tasks.dialects import perplexity
from asyncinfer.tasks.submission import Submission

router = Router()


@router.post("/async/chat/completions")
def submit(svc: Tasks) -> dict:
    body = parse_json_body(raw_body(router), svc.limits.max_request_bytes)
    request, key = perplexity.parse_submit(body, router.current_event.headers.get("idempotency-key"))
    task = svc.submit_chat(tenant_of(router), request, Submission(surface="perplexity", idempotency_key=key))
    return perplexity.detail(task, svc.result(task))


@router.get("/async/chat/completions")
def list_requests(svc: Tasks) -> dict:
    limit, after = ids.token_page(router.current_event.query_string_parameters or {})
    return perplexity.listing(svc.list(tenant_of(router), limit=limit, after=after, status=None, kinds=CHAT_KINDS))


@router.get("/async/chat/completions/<request_id>")
def get_request(request_id: str, svc: Tasks) -> dict:
    task = svc.get(tenant_of(router), ids.parse_any(request_id), CHAT_KINDS)
    return perplexity.detail(task, svc.result(task))
