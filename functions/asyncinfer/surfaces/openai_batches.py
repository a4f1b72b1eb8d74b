"""Batches, as OpenAI's Batch API has them: POST/GET /v1/batches, GET /v1/batches/{id}, POST /v1/batches/{id}/cancel,
POST /v1/batches/uploads; `batch_<uuid>` ids, integer epoch seconds; and a batch's results file, line by line."""

from __future__ import annotations

import uuid
from functools import cache
from typing import Annotated, Any, Literal

from pydantic import Field

from asyncinfer.blobs.base import upload_key
from asyncinfer.domain import files, ids
from asyncinfer.domain.batches import BatchRequest
from asyncinfer.domain.model import Progress, Task, TaskStatus
from asyncinfer.domain.records import BATCH_ENDED, BatchStatus
from asyncinfer.domain.records import Batch as BatchRecord
from asyncinfer.surfaces import async_ids, batch_costs
from asyncinfer.surfaces.answers import Url, absent, answer, later, openai_list_of
from asyncinfer.surfaces.batch_ids import ID_PREFIX as ID_PREFIX  # the surface's spelling, named here too
from asyncinfer.surfaces.batch_ids import internal_id, public_id
from asyncinfer.surfaces.contract import Cursor, Id, IdempotencyKey, Limit, body, openai_list, present, route
from asyncinfer.surfaces.edge import submission, submit, tenant_of
from asyncinfer.surfaces.routing import Depends, Router
from asyncinfer.tasks.batches import Batches
from asyncinfer.tasks.payloads import item_costs


def _seconds(ms: int | None) -> int | None:
    return None if ms is None else ms // 1000


def progress(batch: BatchRecord) -> dict[str, Any]:
    """How far a batch is, as a task's progress reads: its ended items (completed, failed or cancelled) of
    all of them, and that part in percent to one decimal."""
    ended = min(batch.ended, batch.total)
    percent = round(100 * ended / batch.total, 1) if batch.total else 100.0
    return Progress(step=ended, steps=batch.total, percent=percent).model_dump(exclude_none=True)


def render(batch: BatchRecord, results_url: str | None = None) -> dict[str, Any]:
    """A batch as OpenAI's Batch object (integer epoch seconds, its statuses and request_counts), with this API's extras
    beside it: the counts of cancelled, expired and pending items, progress, results_url, schedule, webhook, and
    when the record is deleted (retention_expires_at)."""
    ended = batch.status in BATCH_ENDED
    out: dict[str, Any] = {
        "id": public_id(batch.id),
        "object": "batch",
        "endpoint": batch.endpoint.value,
        "errors": None,
        "input_file_id": batch.input_file_id,
        "completion_window": batch.completion_window,
        "status": batch.status.value,
        "output_file_id": files.batch_file_id(batch.id, "output") if batch.output_key else None,
        "error_file_id": files.batch_file_id(batch.id, "errors") if batch.errors_key else None,
        "created_at": _seconds(batch.created_at),
        "in_progress_at": _seconds(batch.created_at),
        # OpenAI's: the completion window's end (none without a window); the record's own end is retention_expires_at.
        "expires_at": _seconds(batch.deadline_at),
        "retention_expires_at": batch.expires_at,
        "finalizing_at": _seconds(batch.ended_at),
        "completed_at": _seconds(batch.ended_at) if batch.status == BatchStatus.COMPLETED else None,
        "failed_at": None,
        "expired_at": _seconds(batch.ended_at) if batch.status == BatchStatus.EXPIRED else None,
        "cancelling_at": _seconds(batch.cancelled_at),
        "cancelled_at": _seconds(batch.ended_at) if batch.status == BatchStatus.CANCELLED else None,
        "ended_at": _seconds(batch.ended_at) if ended else None,
        "request_counts": {
            "total": batch.total,
            "completed": batch.completed,
            "failed": batch.failed,
            "cancelled": batch.cancelled,
            "expired": batch.expired,
            "pending": max(batch.total - batch.ended, 0),
        },
        "progress": progress(batch),
        "metadata": batch.metadata,
        **batch_costs.render(batch),
    }
    if batch.schedule:
        out["schedule"] = batch.schedule
    if batch.max_attempts is not None:
        out["retry"] = {"max_attempts": batch.max_attempts}
    if batch.webhook is not None:
        out["webhook"] = batch.webhook.view()
    if results_url:
        out["results_url"] = results_url
    return out


def file_line(line: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """A line of the results file as a line of OpenAI's output file (a completed item: its chat completion
    as the response body) or of its error file (a failed or cancelled item: its error)."""
    task = line.get("id")
    out: dict[str, Any] = {
        "id": "batch_req_" + (task.removeprefix(async_ids.ID_PREFIX).replace("-", "") if task else "missing"),
        "custom_id": line["custom_id"],
    }
    if line["status"] == TaskStatus.COMPLETED.value:
        response = {"status_code": 200, "request_id": task, "body": line.get("response")}
        return "output", {**out, "response": response, "error": None}
    error = line.get("error") or {"code": "missing", "message": "The item has no task"}
    return "errors", {**out, "response": None, "error": {"code": error.get("code"), "message": error.get("message")}}


def result_line(custom_id: str, task: Task | None, response: dict[str, Any] | None) -> dict[str, Any]:
    """One line of a batch's results: the item's task, its outcome, and the response when it completed."""
    if task is None:  # cannot happen once every item ended; said plainly rather than dropped
        return {"custom_id": custom_id, "id": None, "status": "MISSING", "response": None, "error": None}
    line: dict[str, Any] = {"custom_id": custom_id, "id": async_ids.public_id(task.id), "status": task.status.value}
    if task.status == TaskStatus.COMPLETED:
        if task.outputs:
            response = {
                "outputs": [
                    o.model_dump(include={"file_id", "file_name", "file_type", "content_type", "size"})
                    for o in task.outputs
                ]
            }
        line["response"] = response
        line["error"] = None
    else:
        line["response"] = None
        error = task.error.model_dump() if task.error else {"code": "cancelled", "message": "The item was cancelled"}
        line["error"] = error
    if task.usage is not None:
        line["usage"] = task.usage.model_dump(exclude_none=True)
    return {**line, **item_costs(task)}


@cache
def answers() -> dict[str, Any]:
    """This surface's answer models (asyncinfer.surfaces.answers: made when the document is)."""
    BatchProgress = answer(
        "BatchProgress",
        step=(int, Field(description="Items ended (completed, failed or cancelled)")),
        steps=(int, Field(description="Items in the batch")),
        percent=(float, Field(description="The part ended, in percent to one decimal")),
    )
    Batch = answer(
        "Batch",
        id=(str, Field(examples=["batch_0190a5d2-7b3c-7d4e-8f00-1a2b3c4d5e6f"])),
        object=Literal["batch"],
        endpoint=Literal[
            "/v1/async", "/v1/generation", "/v1/chat/completions", "/v1/embeddings", "/v1/responses", "/v1/messages"
        ],
        errors=None,
        input_file_id=str | None,
        completion_window=str | None,
        status=Literal["in_progress", "cancelling", "completed", "cancelled", "expired"],
        output_file_id=(
            str | None,
            Field(
                description="Once ended (endpoint /v1/chat/completions, /v1/embeddings or /v1/responses): OpenAI's "
                "output file"
            ),
        ),
        error_file_id=(
            str | None,
            Field(
                description="Once ended with failed, cancelled or expired (`batch_expired`) items: OpenAI's error file"
            ),
        ),
        created_at=(int, Field(description="Unix seconds, as every time of a batch")),
        expires_at=(
            int | None,
            Field(description="When its completion window ends (null without one): unfinished items then expire"),
        ),
        retention_expires_at=(
            int | None,
            Field(description="When the batch record and its files are deleted (not in OpenAI's Batch object)"),
        ),
        **dict.fromkeys(("in_progress_at", "finalizing_at", "completed_at", "failed_at", "expired_at"), int | None),
        **dict.fromkeys(("cancelling_at", "cancelled_at", "ended_at"), int | None),
        request_counts=answer(
            "RequestCounts", **dict.fromkeys(("total", "completed", "failed", "cancelled", "expired", "pending"), int)
        ),
        progress=(
            BatchProgress,
            Field(
                description="How far the batch is (not in OpenAI's Batch object; its SDK keeps it as an extra field)"
            ),
        ),
        metadata=dict[str, str],
        **batch_costs.fields(),
        schedule=(str | None, absent("The schedule that submitted it")),
        retry=(
            answer("BatchItemRetries", max_attempts=int) | None,
            absent("Its items' attempts at most (as submitted)"),
        ),
        webhook=(answer("BatchWebhook", url=str, events=(list[str] | None, None)) | None, None),
        results_url=(
            Url | None,
            absent("Once ended: the results JSONL, one line per custom_id (a fresh presigned URL on every read)"),
        ),
    )
    Listing = openai_list_of(
        "BatchList", Batch, next_cursor=(str | None, Field(description="The same as last_id while has_more"))
    )
    Upload = answer(
        "BatchUpload", input_file=str, upload_url=Url, method=str, fields=dict[str, str], max_bytes=int, expires_in=int
    )
    return {"Batch": Batch, "Listing": Listing, "Upload": Upload}


Batch, Listing, Upload = later(answers, "Batch", "Listing", "Upload")

router = Router()
TAG = "Batches"
UPLOAD_SECONDS = 3600


def batches() -> Batches:
    raise NotImplementedError("this function provides no batches")


BatchesService = Annotated[Batches, Depends(batches)]


# The submit's request example (Swagger UI's "Try it out" sends it; built from the schema it would be refused): the
# provider's reference request, with a model the packaged registry serves quickly.
EXAMPLE = {
    "requests": [
        {
            "custom_id": "q1",
            "body": {"model": "demo-chat", "messages": [{"role": "user", "content": "What is the capital of France?"}]},
        }
    ]
}


@route(
    router,
    "POST",
    "/v1/batches",
    "Submit a batch (one task per request)",
    TAG,
    ok=Batch,
    description="Inline `requests`, an `input_file` (s3:// JSONL of `{custom_id, body}`), or OpenAI's "
    "`input_file_id` (POST /v1/files) with `endpoint: /v1/chat/completions` (or `/v1/embeddings`: OpenAI's "
    "embeddings bodies; `/v1/responses`: Responses requests, each output a Response object) and "
    "`completion_window: 24h`. Every body is checked as its own submit would be (an "
    "embeddings line that fails its checks fails alone); duplicate custom_ids are refused (400 duplicate_custom_id).",
    takes_body=True,
    example=EXAMPLE,
)
def create(svc: BatchesService, request: body(BatchRequest), idempotency_key: IdempotencyKey = None) -> dict:
    how = submission("batch", idempotency_key)
    return render(submit(router, svc.create, request, how, counted="BatchesSubmitted"))


@route(
    router,
    "POST",
    "/v1/batches/uploads",
    "Get a presigned POST (URL and form fields) for a batch input file of at most max_bytes",
    TAG,
    ok=Upload,
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
    ok=Listing,
    description="Pages go on `after` the last id of the previous one (OpenAI's cursor; `cursor` is the same).",
)
def list_batches(svc: BatchesService, limit: Limit = None, cursor: Cursor = None, after: Cursor = None) -> dict:
    name = "after" if after is not None else "cursor"
    limit_, start = ids.page(present(limit=limit, **{name: after if after is not None else cursor}), name, internal_id)
    found, last = svc.list(tenant_of(router), limit=limit_, after=start)
    return openai_list([render(b) for b in found], last is not None, next_cursor=public_id(last) if last else None)


@route(router, "GET", "/v1/batches/{id}", "Get a batch: status, counts, results URL", TAG, ok=Batch)
def get_batch(id: Id, svc: BatchesService) -> dict:
    batch = svc.get(tenant_of(router), internal_id(id))
    return render(batch, svc.results_url(batch))


@route(router, "POST", "/v1/batches/{id}/cancel", "Cancel a batch (its unfinished items)", TAG, ok=Batch)
def cancel_batch(id: Id, svc: BatchesService) -> dict:
    return render(svc.cancel(tenant_of(router), internal_id(id)))
