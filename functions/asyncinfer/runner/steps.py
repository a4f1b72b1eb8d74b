"""The runner's settings; the durable runtime as the runner uses it (the handler adapts the SDK's context
to `Steps`), and what a step may raise through it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class RunnerConfig:
    # The longest a step may take: with less than this left in an invocation, the next step gets a fresh one.
    step_budget_ms: int
    # A step stops streaming this long before its invocation ends (and runs again in the next).
    deadline_margin_ms: int
    max_steps: int = 50
    # Upstream jobs are polled after waits growing from the first to the longest (seconds, no compute).
    first_poll_seconds: int = 5
    poll_seconds: int = 30
    max_polls: int = 1000


class Steps(Protocol):
    """The durable runtime as the runner uses it."""

    def step(self, name: str, body: Callable[[], T]) -> T:
        """Run `body` once and checkpoint its (JSON) result; on replay, the checkpointed result.
        A body raising RetryStep is run again after a backoff, at most a few times (then StepGaveUp)."""

    def pause(self, name: str, seconds: int) -> None:
        """Suspend without compute; the run goes on in a later invocation."""

    def remaining_ms(self) -> int:
        """Time left in this invocation."""


class RetryStep(Exception):
    """A transient failure inside a step: the runtime runs the step again after a backoff."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"[{code}] {message}")  # what the runtime checkpoints of it
        self.code = code


class StepGaveUp(Exception):
    """A step kept failing transiently; the task fails with its code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
