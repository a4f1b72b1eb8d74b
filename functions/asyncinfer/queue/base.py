"""The queue interface: hands a task to the workers."""

from __future__ import annotations

from typing import Protocol

from pydantic import BaseModel, ConfigDict, ValidationError


class TaskMessage(BaseModel):
    """The whole SQS message body: the worker loads everything else from the store."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    tenant: str
    task_id: str


def parse_message(body: str) -> TaskMessage | None:
    """The message, or None for a malformed one: it can never succeed, so retrying would only feed the DLQ."""
    try:
        return TaskMessage.model_validate_json(body)
    except ValidationError:
        return None


class TaskQueue(Protocol):
    def send(self, message: TaskMessage) -> None: ...
