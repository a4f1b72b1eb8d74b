"""A batch request (POST /v1/batches, a schedule's `batch`), its lines, its errors, and the ids of its items."""

from __future__ import annotations

import hashlib
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from asyncinfer.domain.deadlines import parse_duration
from asyncinfer.domain.errors import Conflict, InvalidRequest, TaskNotFound
from asyncinfer.domain.model import id_time_ms, new_task_id
from asyncinfer.domain.records import BatchEndpoint

MAX_CUSTOM_ID = 64
# A completion window: OpenAI's `24h`, or (this API's extension) any duration from a second to a week.
MIN_WINDOW_MS = 1000
MAX_WINDOW_MS = 7 * 86400 * 1000
MAX_ITEM_ATTEMPTS = 10
# The name of a Message Batch's results file (Anthropic's lines) beside its other files.
ANTHROPIC_RESULTS = "anthropic-results"


class InvalidBatch(InvalidRequest):
    code = "invalid_batch"


class DuplicateCustomId(InvalidBatch):
    code = "duplicate_custom_id"


class BatchNotFound(TaskNotFound):
    def __init__(self) -> None:
        super().__init__("No batch with that id")


class BatchEnded(Conflict):
    code = "batch_ended"


class BatchNotEnded(InvalidRequest):
    """Deleting a batch still running: as Anthropic's Message Batches, only an ended batch is deleted (cancel it
    first)."""

    code = "batch_not_ended"


class BatchNotRetryable(Conflict):
    """A cancelled batch is not retried: its items were cancelled on purpose."""

    code = "batch_not_retryable"


class NothingToRetry(InvalidRequest):
    code = "nothing_to_retry"


def window_ms(text: str) -> int:
    """A completion window (`24h`, `90m`, `20s`, `1h30m`, bare seconds) in milliseconds, within a second and a week."""
    try:
        ms = parse_duration(text, "completion_window")
    except InvalidRequest as exc:
        raise ValueError(exc.message) from None
    if not MIN_WINDOW_MS <= ms <= MAX_WINDOW_MS:
        raise ValueError(f"completion_window must be between 1s and 168h; got {text[:40]!r}")
    return ms


def _checked_window(text: str) -> str:
    window_ms(text)
    return text


CompletionWindow = Annotated[str, Field(max_length=40), AfterValidator(_checked_window)]


class RetryRequest(BaseModel):
    """POST /v1/batches/{id}/retry: run the failed items again (and the expired ones if asked), as new tasks."""

    model_config = ConfigDict(defer_build=True, strict=True, extra="forbid")

    include_expired: bool = False
    # A new completion window from the retry (`24h`, `20s`...); without one, the batch's own window starts again.
    completion_window: CompletionWindow | None = None


def item_task_id(batch_id: str, index: int, round: int = 0) -> str:
    """The id of a batch's item: fixed by the batch, the line and the round (a retry's items are new tasks), so a
    repeated batch job makes none twice. Round 0 hashes as before rounds existed, so stored items stay reachable."""
    seed = f"{batch_id}:{index}" if round == 0 else f"{batch_id}:{index}:{round}"
    rand = int.from_bytes(hashlib.sha256(seed.encode()).digest()[:10], "big")
    return new_task_id(id_time_ms(batch_id), rand)


class ItemRetries(BaseModel):
    """A batch's policy for its items' transient upstream errors (429, 5xx, timeouts): how many attempts each
    gets at most, within the deployment's own maximum (each attempt after a backoff)."""

    model_config = ConfigDict(defer_build=True, strict=True, extra="forbid")

    max_attempts: int = Field(ge=1, le=MAX_ITEM_ATTEMPTS)


class BatchRequest(BaseModel):
    """POST /v1/batches, and the `batch` of a schedule."""

    model_config = ConfigDict(defer_build=True, strict=True, extra="forbid")

    endpoint: BatchEndpoint = Field(default=BatchEndpoint.ASYNC, strict=False)
    requests: list[dict[str, Any]] | None = Field(default=None, min_length=1)
    input_file: str | None = Field(default=None, pattern=r"^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]/.+$")
    # OpenAI's Batch API: a file from POST /v1/files; its completion window (`24h`, or any duration: our extension).
    input_file_id: str | None = Field(default=None, min_length=1, max_length=128)
    completion_window: CompletionWindow | None = None
    # Taken as OpenAI's SDK sends it; outputs here live as long as the batch (retention_days).
    output_expires_after: dict[str, Any] | None = None
    webhook: dict[str, Any] | None = None
    retry: ItemRetries | None = None  # our extension
    # Our extension: every item done by this time, as cheaply as possible (asyncinfer.domain.complete_by reads it).
    complete_by: Any = Field(
        default=None,
        description="Every item done by then, as cheaply as possible: an RFC 3339 time with its offset, epoch seconds, "
        "or +<duration> from the submit (+90m); at most the completion window's end. The lines then leave "
        "service_tier out",
        json_schema_extra={"anyOf": [{"type": "string"}, {"type": "integer"}, {"type": "null"}]},
    )
    # As OpenAI bounds a batch's metadata: 16 pairs, keys up to 64 characters, values up to 512.
    metadata: dict[Annotated[str, Field(max_length=64)], Annotated[str, Field(max_length=512)]] = Field(
        default_factory=dict, max_length=16
    )

    @model_validator(mode="after")
    def _one_source(self) -> BatchRequest:
        given = [name for name in ("requests", "input_file", "input_file_id") if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError(
                "give exactly one of requests (inline), input_file (an s3:// JSONL) or input_file_id (POST /v1/files)"
            )
        return self


class Item(BaseModel):
    model_config = ConfigDict(defer_build=True, strict=True, extra="allow")  # OpenAI's lines also carry method and url

    custom_id: str = Field(min_length=1, max_length=MAX_CUSTOM_ID)
    body: dict[str, Any]


class ScheduledInvocation(BaseModel):
    """What EventBridge Scheduler sends the batch function for a schedule (and the CLI, locally)."""

    model_config = ConfigDict(defer_build=True, extra="ignore", frozen=True)

    schedule: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    scheduled_time: str = Field(pattern=r"^[\x21-\x7e]{1,64}$")
    tenant: str = Field(min_length=1, max_length=64)
    batch: dict[str, Any]

    def idempotency_key(self) -> str:
        """Scheduler may deliver one invocation twice; both submit the same batch."""
        return f"schedule:{self.schedule}:{self.scheduled_time}"
