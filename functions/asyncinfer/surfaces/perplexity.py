"""The Perplexity async chat completions surface (reference 002): POST/GET /async/chat/completions, GET
/async/chat/completions/{id}; and the same at Perplexity's current paths, POST/GET /v1/async/sonar and GET
/v1/async/sonar/{id}, on the same tasks. Uuid ids, integer epoch seconds, four statuses (a cancelled task reads as
FAILED), `{requests, next_token}` lists."""

from __future__ import annotations

from functools import cache
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from asyncinfer.domain import ids
from asyncinfer.domain.errors import InvalidRequest
from asyncinfer.domain.fields import PERPLEXITY_ENVELOPE, check_near_misses
from asyncinfer.domain.model import CHAT_KINDS, Task, TaskStatus
from asyncinfer.domain.requests import validation_message
from asyncinfer.surfaces.answers import answer, later, shared
from asyncinfer.surfaces.contract import (
    CancelAfter,
    Id,
    IdempotencyKey,
    Limit,
    NextToken,
    Prefer,
    StartTimeout,
    Tasks,
    body,
    present,
    read_response,
    route,
)
from asyncinfer.surfaces.edge import submission, submit, tenant_of, waited
from asyncinfer.surfaces.routing import Router
from asyncinfer.tasks.reads import TaskPage, TaskRead

STATUS = {
    TaskStatus.CREATED: "CREATED",
    TaskStatus.IN_PROGRESS: "IN_PROGRESS",
    TaskStatus.COMPLETED: "COMPLETED",
    TaskStatus.FAILED: "FAILED",
    TaskStatus.CANCELLED: "FAILED",
}
# Perplexity's cost object has these too; nothing here produces them yet.
_ZERO_COSTS = ("reasoning_tokens_cost", "citation_tokens_cost", "search_queries_cost")


class SubmitBody(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore", defer_build=True)  # built by the first submit

    request: dict[str, Any]
    idempotency_key: str | None = Field(default=None)


def parse_submit(body: dict[str, Any], header_key: str | None) -> tuple[dict[str, Any], str | None]:
    """The chat completion body and the idempotency key (body field or Idempotency-Key header). Other fields
    of the envelope are ignored, unless they are near misses of its own (`idempotency_kye`)."""
    check_near_misses(body, PERPLEXITY_ENVELOPE)
    if "request" not in body and "messages" in body:
        raise InvalidRequest(
            'The chat completion goes in "request": {"request": {"model": ..., "messages": [...]}, '
            '"idempotency_key": ...}'
        )
    try:
        parsed = SubmitBody.model_validate(body)
    except ValidationError as exc:
        raise InvalidRequest(validation_message(exc)) from None
    key = parsed.idempotency_key
    if key is not None and header_key is not None and key != header_key:
        raise InvalidRequest("idempotency_key and the Idempotency-Key header disagree")
    return parsed.request, key if key is not None else header_key


def _seconds(ms: int | None) -> int | None:
    return ms // 1000 if ms is not None else None


def _usage(usage: dict[str, Any]) -> dict[str, Any]:
    return {**usage, "cost": {**usage.get("cost", {}), **{name: 0 for name in _ZERO_COSTS}}}


def summary(task: Task) -> dict[str, Any]:
    return {
        "id": ids.as_uuid(task.id),
        "model": task.model,
        "status": STATUS[task.status],
        "created_at": _seconds(task.created_at),
        "started_at": _seconds(task.started_at),
        "completed_at": _seconds(task.completed_at),
        "failed_at": _seconds(task.failed_at or task.cancelled_at),
    }


def detail(task: Task, result: dict[str, Any] | None) -> dict[str, Any]:
    out = summary(task)
    response = None
    if task.status == TaskStatus.COMPLETED and result is not None:
        response = {**result, "usage": _usage(result.get("usage", {}))}
    error_message = None
    if task.error is not None:
        error_message = task.error.message
    elif task.status == TaskStatus.CANCELLED:
        error_message = "The request was cancelled"
    return {**out, "response": response, "error_message": error_message}


def read(view: TaskRead) -> dict[str, Any]:
    return {**detail(view.task, view.result), **view.timing(_seconds)}


def listing(page: TaskPage) -> dict[str, Any]:
    return {
        "requests": [summary(task) for task in page.tasks],
        "next_token": ids.as_uuid(page.next_cursor) if page.next_cursor else None,
    }


@cache
def answers() -> dict[str, Any]:
    """This surface's answer models (asyncinfer.surfaces.answers: made when the document is)."""
    Summary = answer(
        "PerplexityRequest",
        id=UUID,
        model=str,
        status=Literal["CREATED", "IN_PROGRESS", "COMPLETED", "FAILED"],
        created_at=int,
        **dict.fromkeys(("started_at", "completed_at", "failed_at"), int | None),
    )
    Listing = answer("PerplexityList", requests=list[Summary], next_token=str | None)

    Read = answer(
        "PerplexityRead",
        shared().Timing[int],
        Summary,
        response=(dict[str, Any] | None, Field(description="The chat completion, with usage and cost")),
        error_message=str | None,
    )
    return {"Summary": Summary, "Listing": Listing, "Read": Read}


Summary, Listing, Read = later(answers, "Summary", "Listing", "Read")


router = Router()
TAG = "Perplexity"


# The submit's request example (Swagger UI's "Try it out" sends it; built from the schema it would be refused): the
# provider's reference request, with a model the packaged registry serves quickly.
EXAMPLE = {"request": {"model": "sonar", "messages": [{"role": "user", "content": "What is the capital of France?"}]}}
SUBMIT = "Submit an async chat completion"


@route(router, "POST", "/v1/async/sonar", SUBMIT, TAG, ok=Read, takes_body=True, example=EXAMPLE, waits=Read)
@route(router, "POST", "/async/chat/completions", SUBMIT, TAG, ok=Read, takes_body=True, example=EXAMPLE, waits=Read)
def submit_request(
    svc: Tasks,
    request: body(SubmitBody),
    idempotency_key: IdempotencyKey = None,
    start_timeout: StartTimeout = None,
    cancel_after: CancelAfter = None,
    prefer: Prefer = None,
):  # a Response when it waited: Preference-Applied is a header
    chat, key = parse_submit(request, idempotency_key)
    how = submission("perplexity", key, start_timeout, cancel_after)
    task = submit(router, svc.submit_chat, chat, how)
    return waited(svc, task, prefer, lambda now: read(svc.view(now)), read)


@route(router, "GET", "/v1/async/sonar", "List async chat completions", TAG, ok=Listing)
@route(router, "GET", "/async/chat/completions", "List async chat completions", TAG, ok=Listing)
def list_requests(svc: Tasks, limit: Limit = None, next_token: NextToken = None) -> dict:
    limit_, after = ids.token_page(present(limit=limit, next_token=next_token))
    return listing(svc.list(tenant_of(router), limit=limit_, after=after, status=None, kinds=CHAT_KINDS))


@route(router, "GET", "/v1/async/sonar/{id}", "Get an async chat completion", TAG, ok=Read, poll_hint=True)
@route(router, "GET", "/async/chat/completions/{id}", "Get an async chat completion", TAG, ok=Read, poll_hint=True)
def get_request(id: Id, svc: Tasks):  # a Response: the poll hint is a header
    return read_response(svc.read(tenant_of(router), ids.parse_any(id), CHAT_KINDS), read)
