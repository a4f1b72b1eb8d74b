"""What one worker run of a task ends in, and the one way a task is failed (by the worker or, after its
message was dead-lettered, by the dead-letter function)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from asyncinfer.domain.model import Task, TaskError, TaskStatus, now_ms, sources_of
from asyncinfer.queue.base import TaskMessage
from asyncinfer.store.base import ConditionFailed, TaskStore


class Outcome(StrEnum):
    COMPLETED = "completed"
    FAILED = "failed"
    DROPPED = "dropped"  # nothing to do: missing, ended, or leased by another worker
    ABANDONED = "abandoned"  # cancelled or re-claimed while running: the result is discarded
    DISPATCHED = "dispatched"  # a long task, handed to the durable runner


class RetryLater(Exception):
    """A transient failure: the queue message must come back after a backoff, and never while our lease
    could still hold (it would be dropped as "leased by another worker" and the task stranded)."""

    def __init__(self, message: str, *, lease_left_ms: int = 0) -> None:
        super().__init__(message)
        self.lease_left_ms = lease_left_ms


@dataclass(frozen=True)
class WorkerConfig:
    flush_seconds: float
    max_attempts: int
    inline_result_bytes: int
    deadline_margin_ms: int
    max_tool_steps: int = 8


def failed_changes(code: str, message: str) -> dict[str, Any]:
    """The fields every transition to FAILED sets."""
    now = now_ms()
    return {
        "status": TaskStatus.FAILED,
        "failed_at": now,
        "updated_at": now,
        "error": TaskError(code=code, message=message),
    }


def fail_unclaimed(store: TaskStore, task: Task, code: str, message: str) -> Outcome:
    """Fail a task no worker holds (never claimed, or its runner gone), unless it changed since `task`."""
    return _fail(store, task.tenant, task.id, task.attempt, code, message)


def fail_dead_lettered(store: TaskStore, message: TaskMessage) -> bool:
    """A message exhausted its receives: its task, unless it already ended, fails for good."""
    why = "The task could not be processed; it was retried and gave up"
    return _fail(store, message.tenant, message.task_id, None, "dead_lettered", why) == Outcome.FAILED


def _fail(store: TaskStore, tenant: str, task_id: str, attempt: int | None, code: str, message: str) -> Outcome:
    try:
        store.transition(
            tenant,
            task_id,
            expect=sources_of(TaskStatus.FAILED),
            attempt=attempt,
            changes=failed_changes(code, message),
            remove=["lease_expires_at"],
        )
    except ConditionFailed:
        return Outcome.DROPPED
    return Outcome.FAILED
