"""The settings of the functions that run tasks: the worker, and the long-task runner."""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field, PositiveInt

from asyncinfer.config.base import _Settings
from asyncinfer.config.parts import (
    EscalationSettings,
    LaneSettings,
    OutboundSettings,
    RunnerLinkSettings,
    SealingSettings,
    StandInSettings,
)


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
