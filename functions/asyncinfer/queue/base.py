"""The queue interface: hands a task to the workers, a delivery to the webhook sender, a batch to the batch function."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError


class _Message(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="ignore", frozen=True)

    tenant: str


class TaskMessage(_Message):
    """The whole SQS message body: the worker loads everything else from the store."""

    task_id: str
    # The lane (queue) it is sent to: the task's class, or "batch" (asyncinfer.domain.lanes). Not part of
    # the body: the queue it arrives on says it.
    lane: str = Field(default="default", exclude=True)


class DeliveryMessage(_Message):
    """One webhook delivery to attempt (again)."""

    delivery_id: str


class BatchJob(_Message):
    """Bring a batch's tasks in line with its status: create the missing ones, or cancel them all."""

    batch_id: str
    # From the sweeper, at a `complete_by` batch's escalate time: look at its items waiting in flex.
    escalate: bool = False


M = TypeVar("M", bound=_Message)


def parse_message(body: str, model: type[M] = TaskMessage) -> M | None:  # type: ignore[assignment]
    """The message, or None for a malformed one: it can never succeed, so retrying would only feed the DLQ."""
    try:
        return model.model_validate_json(body)
    except ValidationError:
        return None


class MessageQueue(Protocol):
    def send(self, message: BaseModel) -> None: ...

    def send_many(self, messages: Sequence[BaseModel]) -> None: ...
