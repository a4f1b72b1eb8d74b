"""Records beside the tasks: batches of tasks, and webhook deliveries with their attempts."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from asyncinfer.domain.model import WebhookTarget

BATCH_EVENTS: tuple[str, ...] = ("batch.completed", "batch.cancelled", "batch.expired", "batch.escalated")


class BatchStatus(StrEnum):
    IN_PROGRESS = "in_progress"
    CANCELLING = "cancelling"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    # Its completion window passed: the items finished by then are its results, the rest ended `batch_expired`.
    EXPIRED = "expired"


BATCH_ENDED: frozenset[BatchStatus] = frozenset({BatchStatus.COMPLETED, BatchStatus.CANCELLED, BatchStatus.EXPIRED})


class BatchEndpoint(StrEnum):
    """What each item's body is: a chat completion (the Async API's body) or a media generation."""

    ASYNC = "/v1/async"
    GENERATION = "/v1/generation"
    # OpenAI's Batch API: the Async API's chat body, and output and error files in OpenAI's line shape.
    CHAT_COMPLETIONS = "/v1/chat/completions"
    # Anthropic's Message Batches: each item's body is Anthropic's params (asyncinfer.domain.anthropic_messages).
    MESSAGES = "/v1/messages"
    # OpenAI's Batch API: OpenAI's embeddings body (asyncinfer.domain.embeddings), and OpenAI's files.
    EMBEDDINGS = "/v1/embeddings"
    # OpenAI's Batch API: Responses requests (asyncinfer.domain.responses), run as chat tasks; each output line's
    # body is a Response object.
    RESPONSES = "/v1/responses"


class Batch(BaseModel):
    """One task per input line; the counts are kept by the table stream's consumer as items end."""

    model_config = ConfigDict(defer_build=True)

    id: str
    tenant: str
    status: BatchStatus = BatchStatus.IN_PROGRESS
    endpoint: BatchEndpoint
    total: int
    # Stored as sets of the ended items' lines (a set counts each item once, however often it is told).
    completed: int = 0
    failed: int = 0
    cancelled: int = 0
    expired: int = 0  # FAILED items whose error is batch_expired, counted apart from `failed`
    created_at: int
    updated_at: int
    ended_at: int | None = None
    cancelled_at: int | None = None
    # The normalized input ({custom_id, body} per line) in the bucket; the results once every item ended.
    input_key: str
    results_key: str | None = None
    # OpenAI's Batch API: the input file, the window as given (24h, or a duration such as 20s), and the output and
    # error files' keys.
    input_file_id: str | None = None
    completion_window: str | None = None
    # The window's end (epoch ms): items unfinished by then end FAILED `batch_expired` and the batch EXPIRED.
    deadline_at: int | None = None
    output_key: str | None = None
    errors_key: str | None = None
    webhook: WebhookTarget | None = None
    metadata: dict[str, str] = Field(default_factory=dict)
    schedule: str | None = None  # The schedule that submitted it, if any.
    expires_at: int | None = None
    # Its items' reservations, held as a whole since its submit (asyncinfer.domain.reservations); each item
    # settles its own share, and the batch gives back the whole if it is withdrawn.
    reserved_e8: int | None = None
    reserved_day: str | None = None
    # How often its failed items were run again (POST /v1/batches/{id}/retry); the items of round r are new tasks.
    round: int = 0
    # Its items' attempts at most on transient upstream errors (the request's `retry`), within the deployment's.
    max_attempts: int | None = None
    # Done by this time, as cheaply as possible (epoch ms; asyncinfer.domain.escalation), and when its remaining
    # items first left the cheap path for on-demand.
    complete_by: int | None = None
    escalated_at: int | None = None
    # What its ended items were charged, what they would have cost on demand (units of $0.00000001), and how many of
    # its completed items took each path (provider_batch, flex, default, priority); each added once per item.
    cost_e8: int = 0
    cost_on_demand_e8: int = 0
    paths: dict[str, int] = Field(default_factory=dict)
    # The W3C traceparent of its create's span: its items' spans link to it (asyncinfer.observability.tracing).
    traceparent: str | None = None

    @property
    def ended(self) -> int:
        return self.completed + self.failed + self.cancelled + self.expired

    @property
    def event_type(self) -> str:
        if self.status == BatchStatus.EXPIRED:
            return "batch.expired"
        return "batch.cancelled" if self.status == BatchStatus.CANCELLED else "batch.completed"


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


class Attempt(BaseModel):
    model_config = ConfigDict(defer_build=True)

    at: int
    duration_ms: int
    status_code: int | None = None
    error: str | None = None


class Delivery(BaseModel):
    """One event for one webhook URL. Its id is the `webhook-id` of every attempt; the payload is stored as
    the exact bytes sent, so each retry carries the same body."""

    model_config = ConfigDict(defer_build=True)

    id: str
    tenant: str
    event_type: str
    subject: str  # the id of the task or batch the event is about
    url: str  # sealed: only the sender opens it
    shown: str | None = None  # its origin, for reads
    payload: str
    status: DeliveryStatus = DeliveryStatus.PENDING
    attempts: list[Attempt] = Field(default_factory=list)
    attempt_count: int = 0
    round_start: int = 0  # attempt_count when the current round of attempts began (a redelivery starts a new round).
    created_at: int
    updated_at: int
    delivered_at: int | None = None
    failed_at: int | None = None
    expires_at: int | None = None
    # The traceparent of its task (or batch): each attempt's span joins that trace (asyncinfer.observability.tracing).
    traceparent: str | None = None
