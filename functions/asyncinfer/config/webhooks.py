"""The settings of the webhooks API, and of the table stream's consumer (which announces endings)."""

from __future__ import annotations

from pydantic import Field

from asyncinfer.config.base import _Settings


class WebhookApiSettings(_Settings):
    webhook_queue_url: str = Field(min_length=1)
    retention_days: int = Field(default=30, ge=1)
    # After a rotation the previous signing secret still signs deliveries this long (0: dropped at once).
    webhook_secret_grace_seconds: int = Field(default=24 * 3600, ge=0, le=7 * 24 * 3600)


class NotifierSettings(WebhookApiSettings):
    """The table stream's consumer: announces endings, counts batch items, writes batch results."""

    bucket_name: str = Field(min_length=3)
