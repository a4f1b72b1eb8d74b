"""One invocation's run of a long task: its claim on the task, taken before its first live step and fenced
by `attempt` (asyncinfer.tasks.claims), and its steps, each guarded: a task that ends under a step
(cancelled, deleted) is the step's checkpointed result, a transient failure is the runtime's to retry."""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import partial
from typing import Any

from pydantic import ValidationError

from asyncinfer.domain.catalog import ModelSpec
from asyncinfer.domain.deadlines import missed
from asyncinfer.domain.model import ServiceTier, Task, TaskKind, TaskStatus, now_ms
from asyncinfer.domain.requests import ChatRequest, validation_message
from asyncinfer.providers.base import ProviderError
from asyncinfer.runner.resumed_log import ResumedLog
from asyncinfer.runner.steps import RetryStep, RunnerConfig, Steps
from asyncinfer.tasks.claims import NotClaimed, claim
from asyncinfer.tasks.event_log import ClaimLost, EventLog
from asyncinfer.tasks.metering import Meter
from asyncinfer.tasks.outcomes import Outcome
from asyncinfer.tasks.worker import Worker

log = logging.getLogger(__name__)


class Ended(Exception):
    def __init__(self, outcome: Outcome) -> None:
        super().__init__(outcome.value)
        self.outcome = outcome


class Run:
    """This invocation's run of the task: its claim, and its steps."""

    def __init__(self, worker: Worker, config: RunnerConfig, tenant: str, task_id: str, steps: Steps) -> None:
        self.worker = worker
        self.config = config
        self.tenant = tenant
        self.task_id = task_id
        self.steps = steps
        self._task: Task | None = None
        self.seq = 0

    def task(self) -> Task:
        if self._task is None:
            self._task = self._take()
            self.seq = self._task.event_seq
        return self._task

    def _take(self) -> Task:
        store = self.worker.store
        current = store.get(self.tenant, self.task_id)
        if current is None or current.terminal or not current.visible():
            raise Ended(Outcome.DROPPED)
        now = now_ms()
        try:
            return claim(store, current, now, now + self.steps.remaining_ms(), lost=Outcome.ABANDONED)
        except NotClaimed as not_claimed:
            raise Ended(not_claimed.outcome) from None

    def check_deadline(self) -> None:
        """A step of a task past its end deadline does not run: the task fails `deadline_exceeded`."""
        if late := missed(self.task(), now_ms()):
            raise ProviderError(*late, retryable=False)

    def until_deadline_ms(self) -> int | None:
        finish_by = self.task().finish_by
        return None if finish_by is None else finish_by - now_ms()

    def log(self, base_seq: int, step: str, meter: Meter | None = None) -> EventLog | ResumedLog:
        """The step's event log; a step that ran before (its events past base_seq) resumes its own. With
        `meter`, each flush writes what the task has produced so far."""
        task = self.task()
        worker = self.worker
        mine = partial(worker.transition_mine, task, TaskStatus.IN_PROGRESS)
        current = task.model_copy(update={"event_seq": self.seq})
        log = EventLog(worker.store, current, self.steps.remaining_ms, worker.config.flush_seconds, mine)
        log.meter = meter
        if self.seq <= base_seq:
            return log
        written = worker.store.read_events(task.tenant, task.id, after_seq=base_seq)
        return ResumedLog(log, [e for e in written if e["seq"] <= self.seq], step)

    def step(self, name: str, body: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        return self.steps.step(name, partial(self._guarded, body))

    def _guarded(self, body: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        """A step body; the task ending under it (cancelled, deleted) is its checkpointed result."""
        try:
            return body()
        except Ended as ended:
            return {"end": ended.outcome.value}
        except ClaimLost:
            return {"end": Outcome.ABANDONED.value}
        except ProviderError as exc:
            if exc.retryable:
                raise RetryStep(exc.code, exc.message) from None
            return {"end": self.fail(exc.code, exc.message)["end"]}
        except RetryStep:
            raise
        except Exception as exc:
            # A throttled or failed AWS call, a bug: the step runs again after a backoff, a few times.
            log.warning("step failed; it will be retried", exc_info=True)
            raise RetryStep("internal_error", f"{type(exc).__name__}: {exc}") from exc

    def fail(self, code: str, message: str) -> dict[str, Any]:
        return {"end": self.worker.finish_failed(self.task(), code, message).value}

    def spec(self, plan: dict[str, Any]) -> ModelSpec:
        """The model the plan (the `begin` step's checkpoint) names."""
        registry = self.worker.registry
        return registry.for_tier(registry.resolve(plan["model"], TaskKind(plan["kind"])), ServiceTier(plan["tier"]))

    def request(self) -> tuple[ModelSpec, ChatRequest]:
        task = self.worker.store.get(self.tenant, self.task_id)
        if task is None:
            raise Ended(Outcome.DROPPED)
        spec = self.worker.registry.for_tier(self.worker.registry.resolve(task.model, task.kind), task.service_tier)
        try:
            return spec, ChatRequest.model_validate(self.worker.stored_request(task))
        except ValidationError as exc:
            raise ProviderError("invalid_request", validation_message(exc), retryable=False) from None

    def ends(self) -> dict[str, Any]:
        """Bookkeeping every step result carries: whether the next step needs a fresh invocation."""
        return {"pause": self.steps.remaining_ms() < self.config.step_budget_ms}

    def pause_if_short(self, result: dict[str, Any], after: str) -> None:
        if result.get("pause"):
            self.steps.pause(f"after-{after}", 1)
