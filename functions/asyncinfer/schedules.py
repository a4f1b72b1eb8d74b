"""Scheduled batch invocations: the schedules file (deployed as EventBridge Scheduler schedules by the
CDK stack, run locally by `asyncinfer schedule run NAME`) and the event the batch function receives."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from asyncinfer.domain.ids import TENANT_PATTERN

EXPRESSION = re.compile(r"^(cron\(\S+( \S+){5}\)|rate\(\d+ (minute|minutes|hour|hours|day|days)\)|at\(\S+\))$")
# Replaced by EventBridge Scheduler with the time the invocation was scheduled for.
SCHEDULED_TIME = "<aws.scheduler.scheduled-time>"


class Schedule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    expression: str = Field(description="cron(...), rate(...) or at(...), as EventBridge Scheduler takes them")
    timezone: str = Field(default="UTC", min_length=1, max_length=50)
    tenant: str = Field(pattern=TENANT_PATTERN)
    enabled: bool = True
    description: str | None = Field(default=None, max_length=512)
    batch: dict[str, Any]

    @field_validator("expression")
    @classmethod
    def _expression(cls, value: str) -> str:
        if not EXPRESSION.match(value):
            raise ValueError(f"not a Scheduler expression: {value!r} (cron(m h dom mon dow y), rate(n unit), at(t))")
        return value

    @field_validator("batch")
    @classmethod
    def _batch(cls, value: dict[str, Any]) -> dict[str, Any]:
        from asyncinfer.domain.batches import BatchRequest

        BatchRequest.model_validate(value)  # the shape; the models and bodies are checked when it runs
        return value

    def invocation(self, scheduled_time: str = SCHEDULED_TIME) -> dict[str, Any]:
        """The batch function's input: what Scheduler sends, and what the CLI sends locally."""
        return {"schedule": self.name, "scheduled_time": scheduled_time, "tenant": self.tenant, "batch": self.batch}


class Schedules(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    schedules: list[Schedule] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique(self) -> Schedules:
        names = [s.name for s in self.schedules]
        if len(set(names)) != len(names):
            raise ValueError("schedule names must be unique")
        return self

    @classmethod
    def load(cls, path: Path) -> Schedules:
        return cls.model_validate(json.loads(path.read_text()))

    def get(self, name: str) -> Schedule:
        for schedule in self.schedules:
            if schedule.name == name:
                return schedule
        raise KeyError(name)


def now_iso() -> str:
    return datetime.now(tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
