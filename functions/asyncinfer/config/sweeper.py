"""The sweeper's settings."""

from __future__ import annotations

from pydantic import Field

from asyncinfer.config.base import _Settings
from asyncinfer.config.parts import EscalationSettings, LaneSettings, RunnerLinkSettings


class SweeperSettings(_Settings, RunnerLinkSettings, LaneSettings, EscalationSettings):
    queue_url: str = Field(min_length=1)
    # A task still CREATED this long after its submit has lost its message; re-sent at most this often.
    orphan_after_seconds: int = Field(default=600, ge=1)
    # The batch function's queue: a batch whose completion window ended is sent its batch job (which expires it).
    batch_queue_url: str | None = None
    retention_days: int = Field(default=30, ge=1)  # of the escalation events' delivery records
