"""Anthropic's Message Batches, as its SDK calls them: POST/GET /v1/messages/batches, GET and DELETE
/v1/messages/batches/{id}, POST /v1/messages/batches/{id}/cancel; `msgbatch_<32 hex>` ids, RFC 3339 times, and the
results JSONL at the batch's `results_url` once it ended. Each request's `params` run as a chat task
(asyncinfer.domain.anthropic_messages maps them). Errors keep this API's `{"error": {code, message}}`: the SDK
raises its typed errors (NotFoundError, BadRequestError, ...) by status and reads `error.message`."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from functools import cache
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from asyncinfer.domain.batches import MAX_CUSTOM_ID
from asyncinfer.domain.errors import InvalidRequest, TaskNotFound
from asyncinfer.domain.model import is_task_id
from asyncinfer.domain.records import BATCH_ENDED, BatchEndpoint, BatchStatus
from asyncinfer.domain.records import Batch as BatchRecord
from asyncinfer.domain.requests import validation_message
from asyncinfer.surfaces import batch_costs
from asyncinfer.surfaces.answers import Url, absent, answer, later
from asyncinfer.surfaces.contract import MESSAGE_BATCHES, Id, body, route
from asyncinfer.surfaces.edge import submission, submit, tenant_of
from asyncinfer.surfaces.openai_batches import BatchesService
from asyncinfer.surfaces.routing import Query, Router

ID_PREFIX = "msgbatch_"
PATH = "/v1/messages/batches"
TAG = MESSAGE_BATCHES
STATUS = {
    BatchStatus.IN_PROGRESS: "in_progress",
    BatchStatus.CANCELLING: "canceling",
    BatchStatus.COMPLETED: "ended",
    BatchStatus.CANCELLED: "ended",
    BatchStatus.EXPIRED: "ended",
}
# Anthropic's: a Message Batch expires 24 hours after its creation (a shorter `completion_window` is our extension).
DEFAULT_WINDOW = "24h"


def public_id(batch_id: str) -> str:
    return ID_PREFIX + batch_id


def internal_id(public: str) -> str:
    value = public.removeprefix(ID_PREFIX)
    if value == public or not is_task_id(value):
        raise TaskNotFound("No message batch with that id")
    return value


def _time(ms: int | None) -> str | None:
    if ms is None:
        return None
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def render(batch: BatchRecord, results_url: str | None = None) -> dict[str, Any]:
    """A batch as Anthropic's MessageBatch. Its counts are the items' as they end (Anthropic's stay zero until
    the batch ends; their sum is the total either way). `expires_at` is its completion window's end."""
    ended = batch.status in BATCH_ENDED
    expires = batch.deadline_at or (batch.expires_at * 1000 if batch.expires_at is not None else batch.created_at)
    return {
        "id": public_id(batch.id),
        "type": "message_batch",
        "processing_status": STATUS[batch.status],
        "request_counts": {
            "processing": max(batch.total - batch.ended, 0),
            "succeeded": batch.completed,
            "errored": batch.failed,
            "canceled": batch.cancelled,
            "expired": batch.expired,
        },
        "created_at": _time(batch.created_at),
        "ended_at": _time(batch.ended_at) if ended else None,
        "expires_at": _time(expires),
        "cancel_initiated_at": _time(batch.cancelled_at),
        "archived_at": None,
        "results_url": results_url,
        **batch_costs.render(batch),
    }


class MessageBatchRequest(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", defer_build=True)  # built by the first create

    custom_id: str = Field(min_length=1, max_length=MAX_CUSTOM_ID, pattern=r"^[a-zA-Z0-9_-]+$")
    params: dict[str, Any] = Field(description="Anthropic's Messages params (model, max_tokens, messages, ...)")


class MessageBatchCreate(BaseModel):
    """POST /v1/messages/batches."""

    model_config = ConfigDict(strict=True, extra="forbid", defer_build=True)  # built by the first create

    requests: list[MessageBatchRequest] = Field(min_length=1)
    # Not Anthropic's (its window is 24 h): as on /v1/batches, a shorter or longer one such as `20s` or `90m`.
    completion_window: str = Field(default=DEFAULT_WINDOW, max_length=40)
    # Not Anthropic's either: every request done by this time, as cheaply as possible (as on /v1/batches).
    complete_by: int | str | None = None


Stamp = str  # RFC 3339


@cache
def answers() -> dict[str, Any]:
    """This surface's answer models (asyncinfer.surfaces.answers: made when the document is)."""
    MessageBatch = answer(
        "MessageBatch",
        id=(str, Field(examples=["msgbatch_0190a5d27b3c7d4e8f001a2b3c4d5e6f"])),
        type=Literal["message_batch"],
        processing_status=Literal["in_progress", "canceling", "ended"],
        request_counts=answer(
            "MessageBatchRequestCounts",
            **dict.fromkeys(("processing", "succeeded", "errored", "canceled", "expired"), int),
        ),
        created_at=(str, Field(description="RFC 3339, as every time of a message batch")),
        expires_at=(str, Field(description="When its completion window ends: requests unfinished then expire")),
        ended_at=(Stamp | None, absent("Once ended (null until then, as Anthropic sends it)", nullable=True)),
        cancel_initiated_at=(Stamp | None, absent("Once a cancel was asked for", nullable=True)),
        archived_at=(Stamp | None, absent("Never set here: no batch is archived", nullable=True)),
        results_url=(
            Url | None,
            absent("Once ended: the results JSONL (a fresh presigned URL on every read)", nullable=True),
        ),
        **batch_costs.fields(),
    )
    Listing = answer(
        "MessageBatchList",
        data=list[MessageBatch],
        has_more=bool,
        first_id=(str | None, absent("The first batch's id; null on an empty page", nullable=True)),
        last_id=(str | None, absent("The last batch's id; null on an empty page", nullable=True)),
    )
    Deleted = answer("DeletedMessageBatch", id=str, type=Literal["message_batch_deleted"])
    return {"MessageBatch": MessageBatch, "Listing": Listing, "Deleted": Deleted}


MessageBatch, Listing, Deleted = later(answers, "MessageBatch", "Listing", "Deleted")
PageLimit = Annotated[str | None, Query(json_schema_extra={"type": "integer", "minimum": 1, "maximum": 1000})]
PageCursor = Annotated[str | None, Query()]

router = Router()

EXAMPLE = {
    "requests": [
        {
            "custom_id": "q1",
            "params": {
                "model": "demo-chat",
                "max_tokens": 200,
                "messages": [{"role": "user", "content": "What is the capital of France?"}],
            },
        }
    ]
}


def _batch(svc: Any, public: str) -> BatchRecord:
    batch = svc.get(tenant_of(router), internal_id(public))
    if batch.endpoint != BatchEndpoint.MESSAGES:
        raise TaskNotFound("No message batch with that id")
    return batch


@route(
    router,
    "POST",
    PATH,
    "Create a Message Batch (one chat task per request)",
    TAG,
    ok=MessageBatch,
    description="Anthropic's `requests: [{custom_id, params}]`. A request whose params fail their checks (an unknown "
    "model, no max_tokens) ends `errored`, as Anthropic validates them; a field this service cannot honour (tools, "
    "images, thinking, ...) is a 400 naming it.",
    takes_body=True,
    example=EXAMPLE,
)
def create(svc: BatchesService, request: body(MessageBatchCreate)) -> dict:
    try:
        parsed = MessageBatchCreate.model_validate(request)
    except ValidationError as exc:
        raise InvalidRequest(validation_message(exc)) from None
    items = [{"custom_id": r.custom_id, "body": r.params} for r in parsed.requests]
    window = parsed.completion_window
    internal = {"endpoint": BatchEndpoint.MESSAGES.value, "requests": items, "completion_window": window}
    if parsed.complete_by is not None:
        internal["complete_by"] = parsed.complete_by
    return render(submit(router, svc.create, internal, submission("message_batch"), counted="BatchesSubmitted"))


@route(router, "GET", PATH, "List Message Batches, newest first", TAG, ok=Listing)
def list_batches(
    svc: BatchesService, limit: PageLimit = None, after_id: PageCursor = None, before_id: PageCursor = None
) -> dict:
    if after_id is not None and before_id is not None:
        raise InvalidRequest("give after_id or before_id, not both")
    if limit is not None and not re.fullmatch(r"[0-9]{1,4}", limit):
        raise InvalidRequest("limit must be an integer between 1 and 1000")
    try:
        after = internal_id(after_id) if after_id is not None else None
        before = internal_id(before_id) if before_id is not None else None
    except TaskNotFound:
        raise InvalidRequest("after_id and before_id must be ids of message batches") from None
    found, more = svc.page(
        tenant_of(router), BatchEndpoint.MESSAGES, limit=int(limit or 20), after=after, before=before
    )
    data = [render(batch, svc.anthropic_results_url(batch)) for batch in found]
    return {
        "data": data,
        "has_more": more,
        "first_id": data[0]["id"] if data else None,
        "last_id": data[-1]["id"] if data else None,
    }


@route(router, "GET", PATH + "/{id}", "Retrieve a Message Batch: status, counts, results URL", TAG, ok=MessageBatch)
def get_batch(id: Id, svc: BatchesService) -> dict:
    batch = _batch(svc, id)
    return render(batch, svc.anthropic_results_url(batch))


@route(router, "POST", PATH + "/{id}/cancel", "Cancel a Message Batch (its unfinished requests)", TAG, ok=MessageBatch)
def cancel_batch(id: Id, svc: BatchesService) -> dict:
    batch = _batch(svc, id)
    return render(svc.cancel(batch.tenant, batch.id))


@route(
    router,
    "DELETE",
    PATH + "/{id}",
    "Delete an ended Message Batch and its results",
    TAG,
    ok=Deleted,
    description="Only once it ended (400 batch_not_ended: cancel it first). Its requests' tasks stay readable by "
    "their message ids until they expire with the batch's retention.",
)
def delete_batch(id: Id, svc: BatchesService) -> dict:
    batch = _batch(svc, id)
    svc.delete(batch.tenant, batch.id, BatchEndpoint.MESSAGES)
    return {"id": public_id(batch.id), "type": "message_batch_deleted"}
