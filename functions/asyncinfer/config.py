"""One settings model per function, read from ASYNCINFER_* variables and validated at cold start.

Resource names have no defaults: a function deployed without them fails loudly instead of
writing to a table that happens to share a default name.
"""

from __future__ import annotations

import json
import os
import types
from pathlib import Path
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, PositiveInt

from asyncinfer.domain.limits import MAX_STREAM_SECONDS
from asyncinfer.domain.ssrf import Outbound, OutboundPolicy

ENV_PREFIX = "ASYNCINFER_"


def _json_valued(annotation: Any) -> bool:
    """A list, dict, set or model (or a union with one) is given as JSON in its variable, as pydantic-settings
    reads it; anything else is given as its text."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _json_valued(get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        return any(_json_valued(arg) for arg in get_args(annotation))
    kind = origin or annotation
    return kind in (list, dict, set, frozenset, tuple) or (isinstance(kind, type) and issubclass(kind, BaseModel))


def _environment(cls: type[EnvSettings]) -> dict[str, Any]:
    """The values `cls` reads from this process's environment: variable names are matched case-insensitively,
    `ASYNCINFER_<FIELD>` unless the field names its own variables (validation_alias)."""
    found = {name.lower(): value for name, value in os.environ.items()}
    values: dict[str, Any] = {}
    for name, field in cls.model_fields.items():
        alias = field.validation_alias
        choices = alias.choices if isinstance(alias, AliasChoices) else [alias] if isinstance(alias, str) else []
        for variable in [str(choice) for choice in choices] or [ENV_PREFIX + name]:
            raw = found.get(variable.lower())
            if raw is None:
                continue
            try:
                values[name] = json.loads(raw) if _json_valued(field.annotation) else raw
            except ValueError as exc:
                raise ValueError(f"{variable.upper()} is not JSON: {exc}") from None
            break
    return values


class EnvSettings(BaseModel):
    """A settings model read from the environment (arguments win), as pydantic-settings' BaseSettings reads it:
    its ~70 ms of imports are every function's cold start, for the one source the functions use."""

    # env_prefix: what the docs list as each field's variable (docs/hooks/generated.py).
    model_config = ConfigDict(
        extra="ignore", frozen=True, defer_build=True, validate_default=True, populate_by_name=True
    ) | {"env_prefix": ENV_PREFIX}

    def __init__(self, **values: Any) -> None:
        super().__init__(**{**_environment(type(self)), **values})


class DocsSettings(EnvSettings):
    """The docs function reads nothing but its own package, and where its spans go, as every function does."""

    # Where spans go: X-Ray's OTLP traces endpoint (set on AWS from cdk.json's `tracing`); unset, nowhere.
    # Read by asyncinfer.observability.exporting; named here so a deployed environment is checked at cold start.
    traces_endpoint: str | None = None
    # The share of traces kept, decided where each trace starts (docs/operate/tracing.md).
    trace_sample_rate: float = Field(default=1.0, ge=0, le=1)


class _Settings(DocsSettings):
    table_name: str = Field(min_length=3)


class OutboundSettings(DocsSettings):
    """Where the service may connect for a client (MCP servers, webhook receivers): private, loopback and
    shared addresses are refused unless allowed (the local stack allows them) or the host / CIDR is listed.
    Link-local and metadata addresses are always refused. Checked at submit and again at every connection."""

    mcp_allow_private: bool = False
    mcp_allowed_hosts: list[str] = Field(default_factory=list)
    webhook_allow_private: bool = False
    webhook_allowed_hosts: list[str] = Field(default_factory=list)

    def outbound(self) -> Outbound:
        return Outbound(
            mcp=OutboundPolicy(self.mcp_allow_private, tuple(self.mcp_allowed_hosts)),
            webhooks=OutboundPolicy(self.webhook_allow_private, tuple(self.webhook_allowed_hosts)),
        )


class SealingSettings(DocsSettings):
    # The KMS key that wraps the data keys of sealed client secrets (MCP credentials, webhook URLs).
    sealing_key_id: str = Field(min_length=1)


class RunnerLinkSettings(DocsSettings):
    # The long-task runner's qualified ARN (a durable function's version or alias); unset in a Region
    # without Lambda durable functions, where long tasks are refused at submit.
    runner_function_arn: str | None = None


class StandInSettings(DocsSettings):
    # make dev: the offline video job service the demo video model's jobs go to (Bedrock's async API).
    # Unset in a deployment, where the models that need it are refused at submit.
    demo_video_jobs_url: str | None = None
    # make dev: the offline batch job services of the demo batch models (Bedrock's and OpenAI's batch APIs).
    demo_batch_jobs_url: str | None = None


class PrunerSettings(DocsSettings):
    """The daily prune of the long-task runner's old versions (asyncinfer.ops.prune)."""

    runner_function_name: str = Field(min_length=1)
    # The newest versions kept whatever runs on them: the current one and the one a rollback returns to.
    prune_keep: int = Field(ge=0)


class AuthorizerSettings(_Settings):
    pass


class DeadLetterSettings(_Settings):
    pass


class LaneSettings(DocsSettings):
    """The queues of the priority and flex classes (the tasks queue is the default class's); a class
    without one waits in the tasks queue."""

    priority_queue_url: str | None = None
    flex_queue_url: str | None = None

    def lane_urls(self) -> dict[str, str]:
        urls = {"priority": self.priority_queue_url, "flex": self.flex_queue_url}
        return {lane: url for lane, url in urls.items() if url}


class EscalationSettings(DocsSettings):
    """What `complete_by`'s estimates take as on-demand's capacity (asyncinfer.domain.escalation): how many items each
    class's lane runs side by side (its workers' concurrency times their batch), and the demo models' pace."""

    default_lane_slots: int = Field(default=20, ge=1)
    priority_lane_slots: int = Field(default=0, ge=0)
    flex_lane_slots: int = Field(default=0, ge=0)
    # How often the sweeper looks at due times: escalation moves earlier by this much.
    escalation_sweep_seconds: int = Field(default=60, ge=1, le=3600)
    # Where escalations are announced (`batch.escalated`, `task.escalated`); unset, they are only logged.
    webhook_queue_url: str | None = None
    demo_chat_seconds: float = Field(default=3.0, ge=0)


class SweeperSettings(_Settings, RunnerLinkSettings, LaneSettings, EscalationSettings):
    queue_url: str = Field(min_length=1)
    # A task still CREATED this long after its submit has lost its message; re-sent at most this often.
    orphan_after_seconds: int = Field(default=600, ge=1)
    # The batch function's queue: a batch whose completion window ended is sent its batch job (which expires it).
    batch_queue_url: str | None = None
    retention_days: int = Field(default=30, ge=1)  # of the escalation events' delivery records


class ApiSettings(
    _Settings, OutboundSettings, SealingSettings, RunnerLinkSettings, LaneSettings, StandInSettings, EscalationSettings
):
    queue_url: str = Field(min_length=1)
    bucket_name: str = Field(min_length=3)
    models_file: Path | None = None
    max_request_bytes: int = Field(default=1024 * 1024, ge=1024)
    # Requests larger than this are kept in S3 and the task holds a pointer.
    inline_request_bytes: int = Field(default=64 * 1024, ge=1024, le=256 * 1024)
    retention_days: int = Field(default=30, ge=1)
    # Presigned download URLs: minted on every read, valid this long (at most what the credentials allow).
    download_url_seconds: int = Field(default=3600, ge=60, le=43200)
    # Per-tenant submit quota: at most this many new tasks per window (0 turns it off) -> 429 + Retry-After.
    submits_per_window: int = Field(default=600, ge=0)
    submit_window_seconds: int = Field(default=60, ge=1, le=3600)
    # Per-tenant in-flight quota: at most this many tasks not yet ended (0 turns it off) -> 429.
    max_inflight_tasks: int = Field(default=1000, ge=0)
    # Per-tenant submits waiting for their task at once (`Prefer: wait`, each holds a function instance up to
    # 20 s); more answer at once, as if not asked to wait (0 turns it off).
    max_waiting_submits: int = Field(default=10, ge=0)


class WorkerSettings(
    _Settings, OutboundSettings, SealingSettings, RunnerLinkSettings, StandInSettings, EscalationSettings
):
    bucket_name: str = Field(min_length=3)
    models_file: Path | None = None
    flush_seconds: float = Field(default=0.3, gt=0)
    max_attempts: int = Field(default=3, ge=1)
    # A transiently failed task comes back after a jittered delay growing from this base up to the cap.
    retry_base_seconds: float = Field(default=2, gt=0)
    retry_max_seconds: float = Field(default=300, gt=0, le=43200)
    inline_result_bytes: int = Field(default=16 * 1024, ge=0, le=256 * 1024)
    deadline_margin_seconds: float = Field(default=10, ge=0)
    # Tasks one invocation runs at once, each in a thread (its slots): the event's messages, then those it
    # receives from the same queue itself as slots free (docs/architecture.md, the worker). A queue named in
    # worker_queue_slots (by its ARN, as the event names it) has a number of its own.
    worker_slots: int = Field(default=10, ge=1, le=256)
    worker_queue_slots: dict[str, PositiveInt] = Field(default_factory=dict)
    # The threads of the process's pool (locally one process serves several invocations at once), and so the
    # most slots of an invocation too; unset, the most slots any queue has.
    concurrency: int | None = Field(default=None, ge=1, le=1000)
    # An invocation receives more messages itself only while more than the refill horizon is left of it
    # (unset: half of what it had at its start), long-polling at most refill_wait_seconds while tasks run,
    # and while its process holds less than refill_memory_share of the function's memory.
    worker_refill: bool = True
    refill_horizon_seconds: float | None = Field(default=None, ge=0)
    refill_wait_seconds: int = Field(default=1, ge=0, le=20)
    refill_memory_share: float = Field(default=0.8, gt=0, le=1)
    # With less than this left, nothing more starts: a message not started is handed back (unset: the
    # deadline margin, below which a task would start with no time to run).
    drain_margin_seconds: float | None = Field(default=None, ge=0)
    # Long tasks (models that run on the durable runner) of one tenant running at once, its batches' items
    # included (0: no cap). One more waits, not failed: its message comes back after about
    # long_task_wait_seconds (SQS delays a message 900 s at most) and it starts once a slot is free.
    max_long_tasks_per_tenant: int = Field(default=10, ge=0, le=10_000)
    long_task_wait_seconds: float = Field(default=30, ge=1, le=900)
    demo_media_seconds: float = Field(default=1.0, ge=0)  # per generated file
    # The demo deep-research model: search steps per task, seconds per model turn and per search.
    demo_research_steps: int = Field(default=8, ge=0, le=100)
    demo_research_step_seconds: float = Field(default=20, ge=0, le=600)
    demo_research_tool_seconds: float = Field(default=2, ge=0, le=600)
    # Secrets Manager ARNs holding provider credentials (JSON list); locally, providers read env vars.
    provider_secret_arns: list[str] = Field(default_factory=list)
    # MCP tool loops (chat tasks with mcp_servers).
    mcp_max_steps: int = Field(default=8, ge=1, le=50)
    mcp_connect_seconds: float = Field(default=10, gt=0)
    mcp_call_seconds: float = Field(default=30, gt=0)
    mcp_max_result_bytes: int = Field(default=16 * 1024, ge=256, le=256 * 1024)
    # Dev: an OpenAI-compatible server (Ollama, vLLM, ...) for the local chat models, and its model.
    openai_base_url: str | None = Field(default=None, validation_alias=AliasChoices("OPENAI_BASE_URL"))
    openai_model: str | None = Field(default=None, validation_alias=AliasChoices("OPENAI_MODEL"))

    def slots_for(self, queue_arn: str) -> int:
        slots = self.worker_queue_slots.get(queue_arn, self.worker_slots)
        return min(slots, self.concurrency) if self.concurrency else slots

    def threads(self) -> int:
        return self.concurrency or max([self.worker_slots, *self.worker_queue_slots.values()])


class RunnerSettings(WorkerSettings, LaneSettings):
    """The long-task runner (a durable function): the worker's settings, and how it paces its invocations."""

    # The longest one step (a model turn, a tool call) may take: with less left in an invocation, the run
    # pauses and goes on in a fresh one. Below the runner's timeout.
    step_budget_seconds: float = Field(default=300, gt=0)
    max_steps: int = Field(default=50, ge=1, le=500)
    # Upstream jobs (videos) are polled after waits growing from 5 s up to this, without compute.
    job_poll_seconds: int = Field(default=30, ge=1, le=3600)
    # The service role of Bedrock batch inference jobs the stack makes (a registry's `batch.role_arn` overrides it).
    batch_role_arn: str | None = None
    # Where a part's items its job did not answer are queued to run on demand (asyncinfer.tasks.provider_parts).
    batch_items_queue_url: str | None = None
    # A `complete_by` part's escalated items wait in their class's lane (this one the default class's, the
    # others LaneSettings').
    queue_url: str | None = None
    retention_days: int = Field(default=30, ge=1)


class StreamSettings(_Settings):
    poll_seconds: float = Field(default=0.15, gt=0)
    keepalive_seconds: float = Field(default=15, gt=0)
    # Below the function timeout: the stream closes cleanly and the client resumes with Last-Event-ID.
    max_stream_seconds: float = Field(default=MAX_STREAM_SECONDS, gt=0)
    # Quiet streams poll ever less often, up to this interval.
    max_poll_seconds: float = Field(default=2.0, gt=0)
    # Streams one tenant may hold open at once (each holds a function instance); more is a 429. 0: no cap.
    max_streams_per_tenant: int = Field(default=20, ge=0)


class BatchSettings(ApiSettings):
    """The batches API and the batch function (scheduled invocations, and the batch queue's jobs)."""

    batch_queue_url: str = Field(min_length=1)
    # Where the batch function queues the items it makes (the worker reads it beside the tasks queue).
    batch_items_queue_url: str = Field(min_length=1)
    # At most 50,000: the batch record keeps a set of its ended items, within the 400 KB item limit.
    max_batch_items: int = Field(default=10_000, ge=1, le=50_000)
    max_batch_input_bytes: int = Field(default=100 * 1024 * 1024, ge=1024)
    # Buckets (besides this deployment's uploads/) that batch input files may be read from.
    batch_input_buckets: list[str] = Field(default_factory=list)


class WebhookApiSettings(_Settings):
    webhook_queue_url: str = Field(min_length=1)
    retention_days: int = Field(default=30, ge=1)
    # After a rotation the previous signing secret still signs deliveries this long (0: dropped at once).
    webhook_secret_grace_seconds: int = Field(default=24 * 3600, ge=0, le=7 * 24 * 3600)


class NotifierSettings(WebhookApiSettings):
    """The table stream's consumer: announces endings, counts batch items, writes batch results."""

    bucket_name: str = Field(min_length=3)


# The sender's event source hands it this many messages at once; it attempts them all side by side.
WEBHOOK_SENDER_BATCH_SIZE = 10


class WebhookSenderSettings(_Settings, OutboundSettings, SealingSettings):
    webhook_max_attempts: int = Field(default=8, ge=1, le=50)
    # Attempt n comes back after a jittered delay of up to base * 2^(n-1) seconds, at most the cap.
    webhook_retry_base_seconds: float = Field(default=5, gt=0)
    webhook_retry_max_seconds: float = Field(default=3600, gt=0, le=43200)
    webhook_timeout_seconds: float = Field(default=10, gt=0, le=60)
