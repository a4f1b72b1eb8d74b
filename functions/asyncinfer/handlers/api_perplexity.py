"""The Perplexity surface: POST/GET /async/chat/completions, GET /async/chat/completions/{id}."""

from __future__ import annotations

from asyncinfer.config import ApiSettings
from asyncinfer.domain import ids
from asyncinfer.domain.model import CHAT_KINDS
from asyncinfer.domain.requests import parse_json_body
from asyncinfer.handlers.shared import entry_point, service
from asyncinfer.http import build_resolver, raw_body, tenant_of
from asyncinfer.tasks.dialects import perplexity
from asyncinfer.tasks.submission import Submission

app = build_resolver()

SETTINGS = ApiSettings  # the infra tests check each deployed environment against it


@app.post("/async/chat/completions")
def submit() -> dict:
    svc = service()
    body = parse_json_body(raw_body(app), svc.limits.max_request_bytes)
    request, key = perplexity.parse_submit(body, app.current_event.headers.get("idempotency-key"))
    task = svc.submit_chat(tenant_of(app), request, Submission(surface="perplexity", idempotency_key=key))
    return perplexity.detail(task, svc.result(task))


@app.get("/async/chat/completions")
def list_requests() -> dict:
    limit, after = ids.token_page(app.current_event.query_string_parameters or {})
    return perplexity.listing(service().list(tenant_of(app), limit=limit, after=after, status=None, kinds=CHAT_KINDS))


@app.get("/async/chat/completions/<request_id>")
def get_request(request_id: str) -> dict:
    svc = service()
    task = svc.get(tenant_of(app), ids.parse_any(request_id), CHAT_KINDS)
    return perplexity.detail(task, svc.result(task))


lambda_handler = entry_point(app)
