"""How batches, batch result lines and webhook events look: `batch_<uuid>` and `task_<uuid>` ids, ISO times."""

from __future__ import annotations

from typing import Any

from asyncinfer.domain import files, ids
from asyncinfer.domain.errors import TaskNotFound
from asyncinfer.domain.model import Progress, Task, TaskStatus
from asyncinfer.domain.records import BATCH_ENDED, Batch, BatchStatus, Delivery
from asyncinfer.domain.sealing import shown_url
from asyncinfer.tasks.dialects import async_api

ID_PREFIX = "batch_"


def public_id(batch_id: str) -> str:
    return ID_PREFIX + ids.as_uuid(batch_id)


def internal_id(public: str) -> str:
    if not public.startswith(ID_PREFIX):
        raise TaskNotFound("No batch with that id")
    try:
        return ids.parse_any(public.removeprefix(ID_PREFIX))
    except TaskNotFound:
        raise TaskNotFound("No batch with that id") from None


def _seconds(ms: int | None) -> int | None:
    return None if ms is None else ms // 1000


def progress(batch: Batch) -> dict[str, Any]:
    """How far a batch is, as a task's progress reads: its ended items (completed, failed or cancelled) of
    all of them, and that part in percent to one decimal."""
    ended = min(batch.ended, batch.total)
    percent = round(100 * ended / batch.total, 1) if batch.total else 100.0
    return Progress(step=ended, steps=batch.total, percent=percent).model_dump(exclude_none=True)


def render(batch: Batch, results_url: str | None = None) -> dict[str, Any]:
    """A batch as OpenAI's Batch object (integer epoch seconds, its statuses and request_counts), with this
    API's extras beside it: the counts of cancelled and pending items, progress, results_url, schedule,
    webhook."""
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
        "expires_at": batch.expires_at,
        "finalizing_at": _seconds(batch.ended_at),
        "completed_at": _seconds(batch.ended_at) if batch.status == BatchStatus.COMPLETED else None,
        "failed_at": None,
        "expired_at": None,
        "cancelling_at": _seconds(batch.cancelled_at),
        "cancelled_at": _seconds(batch.ended_at) if batch.status == BatchStatus.CANCELLED else None,
        "ended_at": _seconds(batch.ended_at) if ended else None,
        "request_counts": {
            "total": batch.total,
            "completed": batch.completed,
            "failed": batch.failed,
            "cancelled": batch.cancelled,
            "pending": max(batch.total - batch.ended, 0),
        },
        "progress": progress(batch),
        "metadata": batch.metadata,
    }
    if batch.schedule:
        out["schedule"] = batch.schedule
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
        "id": "batch_req_" + (task.removeprefix(async_api.ID_PREFIX).replace("-", "") if task else "missing"),
        "custom_id": line["custom_id"],
    }
    if line["status"] == TaskStatus.COMPLETED.value:
        response = {"status_code": 200, "request_id": task, "body": line.get("response")}
        return "output", {**out, "response": response, "error": None}
    error = line.get("error") or {"code": "missing", "message": "The item has no task"}
    return "errors", {**out, "response": None, "error": {"code": error.get("code"), "message": error.get("message")}}


def task_data(task: Task) -> dict[str, Any]:
    """A task in webhook events: its summary, what it ran, how it ended."""
    out = {**async_api.summary(task), "object": "task", "kind": task.kind.value, "model": task.model}
    if task.error is not None:
        out["error"] = task.error.model_dump()
    if task.batch_id is not None:
        out["batch_id"] = public_id(task.batch_id)
        out["custom_id"] = task.custom_id
    if task.metadata:
        out["metadata"] = task.metadata
    return out


def result_line(custom_id: str, task: Task | None, response: dict[str, Any] | None) -> dict[str, Any]:
    """One line of a batch's results: the item's task, its outcome, and the response when it completed."""
    if task is None:  # cannot happen once every item ended; said plainly rather than dropped
        return {"custom_id": custom_id, "id": None, "status": "MISSING", "response": None, "error": None}
    line: dict[str, Any] = {"custom_id": custom_id, "id": async_api.public_id(task.id), "status": task.status.value}
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
    return line


def delivery(item: Delivery, *, with_payload: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": item.id,
        "object": "webhook.delivery",
        "event_type": item.event_type,
        "subject": public_id(item.subject)
        if item.event_type.startswith("batch.")
        else async_api.public_id(item.subject),
        "url": item.shown or shown_url(item.url),
        "status": item.status.value,
        "attempt_count": item.attempt_count,
        "created_at": async_api.iso(item.created_at),
        "attempts": [
            {k: v for k, v in {**a.model_dump(), "at": async_api.iso(a.at)}.items() if v is not None}
            for a in item.attempts
        ],
    }
    for name in ("delivered_at", "failed_at"):
        value = getattr(item, name)
        if value is not None:
            out[name] = async_api.iso(value)
    if with_payload:
        out["payload"] = item.payload
    return out
