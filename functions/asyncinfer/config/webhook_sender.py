"""The webhook sender's settings."""

from __future__ import annotations

from pydantic import Field

from asyncinfer.config.base import _Settings
from asyncinfer.config.parts import OutboundSettings, SealingSettings

# The sender's event source hands it this many messages at once; it attempts them all side by side.
WEBHOOK_SENDER_BATCH_SIZE = 10


class WebhookSenderSettings(_Settings, OutboundSettings, SealingSettings):
    webhook_max_attempts: int = Field(default=8, ge=1, le=50)
    # Attempt n comes back after a jittered delay of up to base * 2^(n-1) seconds, at most the cap.
    webhook_retry_base_seconds: float = Field(default=5, gt=0)
    webhook_retry_max_seconds: float = Field(default=3600, gt=0, le=43200)
    webhook_timeout_seconds: float = Field(default=10, gt=0, le=60)
