"""The long-task runner as the rest of the service sees it: start an execution named by its task, stop it,
read how it stands."""

from __future__ import annotations

from typing import Any, Protocol

# What an execution's status is once it can no longer run the task (Lambda's names for them).
ENDED = frozenset({"SUCCEEDED", "FAILED", "TIMED_OUT", "STOPPED"})
# The error of a long task whose execution ended without ending it (its runner kept failing).
RUNNER_FAILED = "runner_failed"


class Executions(Protocol):
    def start(self, tenant: str, task_id: str, traceparent: str | None = None) -> str:
        """Start the runner's execution of a task, named by the task id, and return its ARN. Starting a
        second time with the same name returns the same execution: a duplicate message starts nothing.
        Its invocations' spans join `traceparent` (the task's trace)."""

    def start_named(self, name: str, event: dict[str, Any]) -> str:
        """Start an execution of the runner on `event` named `name` (a batch part's: asyncinfer.runner.batch_jobs),
        idempotent as `start` is."""

    def stop(self, execution_arn: str) -> None:
        """Stop the execution (a cancelled task): its pending waits and retries never resume."""

    def status(self, execution_arn: str) -> str | None:
        """RUNNING, SUCCEEDED, FAILED, TIMED_OUT or STOPPED; None when it is not known."""
