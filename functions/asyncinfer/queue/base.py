"""The queue interface: hands a task to the workers."""

from __future__ import annotations

from typing import Protocol

from pydantic import BaseModel, ConfigDict


class TaskMessage(BaseModel):
    """The whole SQS message body: the worker loads everything else from the store."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    tenant: str
    task_id: str


class TaskQueue(Protocol):
    def send(self, message: TaskMessage) -> None: ...
