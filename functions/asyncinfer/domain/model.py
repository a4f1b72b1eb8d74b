"""The task: one record, one state machine, rendered by every dialect."""

from __future__ import annotations

import os
import time
import uuid
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from asyncinfer.domain.sealing import Sealer, shown_url, webhook_context


class TaskStatus(StrEnum):
    CREATED = "CREATED"
    IN_PROGRESS = "IN_PROGRESS"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"


class TaskKind(StrEnum):
    CHAT = "chat"
    IMAGE = "image"
    AUDIO = "audio"
    VIDEO = "video"
    EMBEDDING = "embedding"


# The statuses as PrivateGPT and NetMind spell them.
LOWERCASE_STATUS = {
    TaskStatus.CREATED: "pending",
    TaskStatus.IN_PROGRESS: "processing",
    TaskStatus.COMPLETED: "completed",
    TaskStatus.FAILED: "failed",
    TaskStatus.CANCELLED: "cancelled",
}
CHAT_KINDS: frozenset[TaskKind] = frozenset({TaskKind.CHAT})
MEDIA_KINDS: frozenset[TaskKind] = frozenset({TaskKind.IMAGE, TaskKind.AUDIO, TaskKind.VIDEO})


TERMINAL: frozenset[TaskStatus] = frozenset({TaskStatus.COMPLETED, TaskStatus.FAILED, TaskStatus.CANCELLED})

ALLOWED: dict[TaskStatus, frozenset[TaskStatus]] = {
    TaskStatus.CREATED: frozenset({TaskStatus.IN_PROGRESS, TaskStatus.CANCELLED, TaskStatus.FAILED}),
    # IN_PROGRESS -> IN_PROGRESS is a re-claim after an expired lease (attempt + 1).
    TaskStatus.IN_PROGRESS: frozenset(
        {TaskStatus.IN_PROGRESS, TaskStatus.COMPLETED, TaskStatus.FAILED, TaskStatus.CANCELLED}
    ),
    TaskStatus.COMPLETED: frozenset(),
    TaskStatus.FAILED: frozenset(),
    TaskStatus.CANCELLED: frozenset(),
}


def can_transition(current: TaskStatus, target: TaskStatus) -> bool:
    return target in ALLOWED[current]


def sources_of(target: TaskStatus) -> frozenset[TaskStatus]:
    """Every status from which `target` may be reached: the store's condition for that transition."""
    return frozenset(status for status, targets in ALLOWED.items() if target in targets)


def now_ms() -> int:
    return int(time.time() * 1000)


def first_id_at(at_ms: int) -> str:
    """The smallest task id minted at `at_ms`: ids before it were minted earlier."""
    return f"{(at_ms & 0xFFFF_FFFF_FFFF) << 80:032x}"


def new_task_id(at_ms: int | None = None, rand: int | None = None) -> str:
    """A UUIDv7 as 32 lowercase hex digits: time-ordered, so newest-first is a reverse key order.
    `rand` (80 bits) makes it deterministic: a batch's items get the same ids however often they are made."""
    ms = now_ms() if at_ms is None else at_ms
    if rand is None:
        rand = int.from_bytes(os.urandom(10), "big")
    value = (ms & 0xFFFF_FFFF_FFFF) << 80 | 0x7 << 76 | (rand >> 68 & 0xFFF) << 64 | 0b10 << 62
    value |= rand & 0x3FFF_FFFF_FFFF_FFFF
    return uuid.UUID(int=value).hex


def id_time_ms(task_id: str) -> int:
    """When an id was minted (its UUIDv7 timestamp)."""
    return int(task_id[:12], 16)


def is_task_id(value: str) -> bool:
    if len(value) != 32:
        return False
    try:
        return uuid.UUID(hex=value).hex == value and uuid.UUID(hex=value).version == 7
    except ValueError:
        return False


TASK_EVENTS: tuple[str, ...] = ("task.completed", "task.failed", "task.cancelled", "task.escalated")


class ServiceTier(StrEnum):
    """A task's class, which decides the queue (the lane) it waits in: each lane has workers of its own,
    so a higher class starts first under any backlog of a lower one, and no class is ever starved."""

    PRIORITY = "priority"
    DEFAULT = "default"
    FLEX = "flex"


class WebhookTarget(BaseModel):
    """Where a task's (or a batch's) ending is announced, and which events; None means all of them."""

    model_config = ConfigDict(defer_build=True)

    url: str  # sealed once stored (tasks.sealing): only the webhook sender opens it
    events: list[str] | None = None
    shown: str | None = None  # what reads show of the URL: its origin

    def wants(self, event_type: str) -> bool:
        return self.events is None or event_type in self.events

    def sealed(self, sealer: Sealer, tenant: str) -> WebhookTarget:
        url = sealer.seal([self.url], webhook_context(tenant))[0]
        return self.model_copy(update={"url": url, "shown": shown_url(self.url)})

    def view(self) -> dict[str, Any]:
        return {"url": self.shown or shown_url(self.url), **({"events": self.events} if self.events else {})}


class TaskError(BaseModel):
    model_config = ConfigDict(defer_build=True)

    code: str
    message: str


class Cost(BaseModel):
    """US dollars, from the registry's prices at the time the task completed."""

    model_config = ConfigDict(defer_build=True)

    input_tokens_cost: float = 0
    output_tokens_cost: float = 0
    media_cost: float = 0
    request_cost: float = 0
    total_cost: float = 0


class Output(BaseModel):
    """A generated file, kept in S3; clients get a fresh presigned URL on every read."""

    model_config = ConfigDict(defer_build=True)

    key: str
    file_id: str
    file_name: str
    file_type: str  # image | audio | video
    content_type: str
    size: int


class Usage(BaseModel):
    model_config = ConfigDict(defer_build=True)

    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    # Media: images made, or seconds of audio or video.
    images: int | None = None
    seconds: float | None = None
    cost: Cost | None = None


class Progress(BaseModel):
    """How far a running task is. A task of steps (a tool loop, a batch): its step, how many steps it will
    take when that is known, and the percent done when it can be told. An upstream job (a video, a
    background response): the percent it reports, or, when it reports none, the seconds it has run (at its
    last poll) and the seconds its model's jobs usually take (the registry's `expected_seconds`; absent when
    unknown). Past that estimate the elapsed time simply exceeds it: nothing claims it done
    (asyncinfer.domain.job_progress)."""

    model_config = ConfigDict(defer_build=True)

    step: int | None = Field(default=None, ge=0)  # None: not a task of steps (an upstream job)
    steps: int | None = None
    percent: float | None = None
    message: str | None = Field(default=None, max_length=200)
    elapsed_seconds: int | None = Field(default=None, ge=0)
    estimated_seconds: int | None = Field(default=None, ge=1)


class Task(BaseModel):
    """The canonical task. Times are epoch milliseconds; each surface spells them."""

    model_config = ConfigDict(defer_build=True)

    id: str
    tenant: str
    kind: TaskKind
    model: str
    status: TaskStatus = TaskStatus.CREATED
    attempt: int = 0
    lease_expires_at: int | None = None
    created_at: int
    updated_at: int
    started_at: int | None = None
    completed_at: int | None = None
    failed_at: int | None = None
    cancelled_at: int | None = None
    # When the sweeper last sent a message for it while it sat CREATED (an enqueue lost in a crash).
    requeued_at: int | None = None
    # The normalized request, or the S3 key holding it when it is large.
    request: dict[str, Any] | None = None
    request_key: str | None = None
    result: dict[str, Any] | None = None
    result_key: str | None = None
    error: TaskError | None = None
    usage: Usage | None = None
    outputs: list[Output] = Field(default_factory=list)
    event_seq: int = 0
    correlation_id: str | None = None
    metadata: dict[str, str] = Field(default_factory=dict)
    expires_at: int | None = None  # epoch seconds: the DynamoDB TTL attribute
    deleted_at: int | None = None  # soft delete: the record stays (until TTL), invisible to every surface
    public_name: str | None = None  # A client-chosen id (PrivateGPT's message_id), claimed as a name beside the task.
    webhook: WebhookTarget | None = None
    # An item of a batch: its batch, its line in the batch's input, and the client's id for it.
    batch_id: str | None = None
    batch_index: int | None = None
    custom_id: str | None = None
    batch_round: int | None = None  # set on a retried item (round 1, 2...); its id is item_task_id's of that round
    max_attempts: int | None = None  # its batch's retry policy: fewer attempts than the deployment's, if set
    # Its batch's completion window's end (epoch ms): missed, it ends `batch_expired` (asyncinfer.domain.deadlines).
    batch_deadline: int | None = None
    # How a batch item runs: "provider_batch" (in a part sent up as one provider batch job, never queued) or
    # "on_demand" (handed back by its part); unset, queued as any item. With `complete_by`, the class it runs in
    # ("flex", "default", "priority"): the path it took, which escalation may change while it waits.
    path: str | None = None
    # Done by this time (epoch ms), as cheaply as possible: its batch's, or its own (asyncinfer.domain.escalation).
    complete_by: int | None = None
    # What its usage would have cost at the default class's on-demand prices (its saving is the difference).
    cost_on_demand: Cost | None = None
    # A long task: handed by the worker to the durable runner, whose execution (named by the task id) this is.
    execution_arn: str | None = None
    # A chat task the worker handed over to the runner (asyncinfer.tasks.handover), epoch ms: from then on
    # its messages dispatch it (after a long-task slot) and never run its turn on the worker again.
    handed_over_at: int | None = None
    service_tier: ServiceTier = ServiceTier.DEFAULT
    progress: Progress | None = None
    # Deadlines (asyncinfer.domain.deadlines), epoch ms: start by, end by (set at the start when the request
    # gave an execution timeout, which counts from the start).
    start_by: int | None = None
    finish_by: int | None = None
    execution_timeout_ms: int | None = None
    # Its tenant's budget held for it since it was accepted (units of $0.00000001) and the UTC day whose
    # periods hold it (asyncinfer.domain.reservations); its end settles both to its actual cost.
    reserved_e8: int | None = None
    reserved_day: str | None = None
    # What the running attempt has produced so far, priced: what a cancel, a deadline or a failure charges.
    produced: Usage | None = None
    # A job started upstream for it (a background response, a video), kept the moment its create answered:
    # a start run again finds it instead of creating (and paying for) a second one.
    upstream_job: dict[str, Any] | None = None
    # The W3C traceparent of its submit's span (asyncinfer.observability.tracing): every later hop's span
    # is in this trace. A batch item's is its own, linked to its batch's.
    traceparent: str | None = None

    @property
    def event_type(self) -> str:
        """The webhook event of this task's terminal status, e.g. task.completed."""
        return f"task.{self.status.value.lower()}"

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL

    def expired(self, at_ms: int | None = None) -> bool:
        """Past its retention: gone for every reader, even while DynamoDB's TTL deletion lags (up to days)."""
        return self.expires_at is not None and self.expires_at * 1000 <= (now_ms() if at_ms is None else at_ms)

    def visible(self) -> bool:
        return self.deleted_at is None and not self.expired()

    def lease_expired(self, at_ms: int) -> bool:
        return self.lease_expires_at is None or self.lease_expires_at <= at_ms
