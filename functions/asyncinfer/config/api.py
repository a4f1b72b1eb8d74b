"""The settings of the API functions, and of the batch function (which reads the batches API's)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from asyncinfer.config.base import _Settings
from asyncinfer.config.parts import (
    EscalationSettings,
    LaneSettings,
    OutboundSettings,
    RunnerLinkSettings,
    SealingSettings,
    StandInSettings,
)


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
