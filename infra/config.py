"""Deployment configuration, read from cdk.json context and validated before anything is built."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class InfraConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    stage: str = Field(default="prod", pattern=r"^[a-z][a-z0-9-]{0,19}$")
    retention_days: int = Field(default=30, ge=1, le=3650)
    architecture: Literal["arm64", "x86_64"] = "arm64"
    worker_timeout_seconds: int = Field(default=300, ge=30, le=900)
    worker_batch_size: int = Field(default=10, ge=1, le=10)
    worker_batching_window_seconds: int = Field(default=0, ge=0, le=300)
    worker_max_concurrency: int = Field(default=20, ge=2, le=1000)
    max_receive_count: int = Field(default=3, ge=3, le=5)
    models_file: str | None = None
    provider_secret_arns: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _window_needs_batches(self) -> InfraConfig:
        if self.worker_batching_window_seconds and self.worker_batch_size < 2:
            raise ValueError("a batching window only makes sense with worker_batch_size > 1")
        return self

    @property
    def queue_visibility_seconds(self) -> int:
        # AWS's guidance for Lambda SQS consumers: at least six times the function timeout.
        return 6 * self.worker_timeout_seconds

    @classmethod
    def from_context(cls, context: dict[str, Any] | None) -> InfraConfig:
        return cls.model_validate(context or {})
