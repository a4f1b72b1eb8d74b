"""Finds tasks still CREATED long after their submit and sends their message again; fails tasks past
their deadlines.

A submit that dies between writing the task and SendMessage leaves a task no worker will ever see.
A client retrying with its idempotency key brings it back (TaskService._replay); the sweeper catches
the rest. A duplicate message is harmless (every transition is a compare-and-set), and each task is
re-sent at most once per `after_ms`, so a queue backlog is not doubled on every run.

Deadlines (asyncinfer.domain.deadlines) are kept by whoever runs the task, and by the sweeper for the
tasks nobody runs: one waiting in a backlog past its start deadline ends `start_timeout` here, without
waiting for a worker to reach it; one whose worker died ends `deadline_exceeded` here. Either ending is a
compare-and-set fenced by the attempt, so a worker that gets there first wins and nothing ends twice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from asyncinfer.domain.deadlines import missed
from asyncinfer.domain.lanes import lane_of
from asyncinfer.domain.model import Task, TaskStatus, first_id_at, now_ms
from asyncinfer.executions.base import ENDED, RUNNER_FAILED, Executions
from asyncinfer.queue.base import BatchJob, MessageQueue, TaskMessage
from asyncinfer.store.base import ConditionFailed, Due, TaskStore
from asyncinfer.store.schema import BATCH_DUE, BATCH_ESCALATE
from asyncinfer.tasks.flex_escalation import DEFAULT, FLEX, Pace, look_at_task
from asyncinfer.tasks.outcomes import Outcome, fail_unclaimed
from asyncinfer.tasks.webhooks import Escalation, Webhooks

TASK_ESCALATED = "task.escalated"

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SweepReport:
    examined: int = 0
    requeued: int = 0
    failed: int = 0  # long tasks whose execution ended without ending them
    late: int = 0  # tasks failed at their deadlines


@dataclass
class Sweeper:
    store: TaskStore
    queue: MessageQueue
    after_ms: int
    page_size: int = 100
    executions: Executions | None = None
    # The batch function's queue: a batch whose completion window ended gets its batch job, which expires it.
    batch_jobs: MessageQueue | None = None
    # complete_by's estimates: when a single flex task must move to on-demand (asyncinfer.tasks.flex_escalation).
    pace: Pace = field(default_factory=Pace)
    announce: Webhooks | None = None  # where `task.escalated` is announced (None: logged only)
    public_id: Callable[[str], str] = str  # the task's id as its webhooks show it

    def sweep(self, at_ms: int | None = None) -> SweepReport:
        now = now_ms() if at_ms is None else at_ms
        late = self.sweep_deadlines(now)
        before = first_id_at(now - self.after_ms)
        examined, requeued, failed, cursor = 0, 0, 0, None
        while True:
            found, cursor = self.store.inflight_before(before, self.page_size, cursor)
            for tenant, task_id in found:
                examined += 1
                task = self.store.get(tenant, task_id)
                if task is not None and task.status == TaskStatus.IN_PROGRESS:
                    failed += self._orphaned_long_task(task, now)
                else:
                    requeued += self._requeue(task, now)
            if cursor is None:
                return SweepReport(examined, requeued, failed, late)

    def sweep_deadlines(self, at_ms: int | None = None) -> int:
        """Fail the tasks whose deadlines passed by `at_ms`; how many it failed."""
        now = now_ms() if at_ms is None else at_ms
        late, after = 0, None
        while True:
            dues = self.store.due_before(now, self.page_size, after)
            for due in dues:
                if due.task_id.startswith(BATCH_DUE):
                    late += self._window_ended(due)
                    continue
                if due.task_id.startswith(BATCH_ESCALATE):
                    self._batch_escalates(due)
                    continue
                task = self.store.get(due.tenant, due.task_id)
                if task is not None:
                    task = self._escalate(task, now)
                outcome = Outcome.DROPPED
                if task is not None and (missing := missed(task, now)):
                    outcome = fail_unclaimed(self.store, task, *missing)
                    if outcome == Outcome.DROPPED:
                        continue  # changed under us: looked at again on the next run
                    log.warning("task %s missed its deadline: %s", task.id, missing[0])
                late += outcome == Outcome.FAILED
                self.store.clear_due(due)  # ended, started in time, or failed now: nothing more to watch
            if len(dues) < self.page_size:
                return late
            after = dues[-1]

    def _window_ended(self, due: Due) -> int:
        """A batch's completion window ended: its batch job fails its unfinished items (once the batch function
        runs it; a batch already ended makes it a no-op). Kept until sent, so a failed send is tried again."""
        if self.batch_jobs is None:
            return 0
        self.batch_jobs.send(BatchJob(tenant=due.tenant, batch_id=due.task_id.removeprefix(BATCH_DUE)))
        log.warning("batch %s: its completion window ended", due.task_id)
        self.store.clear_due(due)
        return 1

    def _batch_escalates(self, due: Due) -> None:
        """A `complete_by` batch's escalate time: its batch job looks at its items waiting in flex (and moves them,
        or sets the next look). Kept until sent, as a window's end."""
        if self.batch_jobs is None:
            return
        batch_id = due.task_id.removeprefix(BATCH_ESCALATE)
        self.batch_jobs.send(BatchJob(tenant=due.tenant, batch_id=batch_id, escalate=True))
        self.store.clear_due(due)

    def _escalate(self, task: Task, now: int) -> Task:
        """A single flex `complete_by` task moves to on-demand once its escalate time has come; before it, the
        sweeper looks again then. The task as it is now (moved or not)."""
        look = look_at_task(self.store, self.queue, self.pace, task, now)
        if look is None:
            return task
        if look.next_at is not None:
            self.store.add_due(task.tenant, task.id, look.next_at)
            return task
        moved = self.store.get(task.tenant, task.id) or task
        if self.announce is not None and task.complete_by is not None:
            to = moved.path or DEFAULT
            event = Escalation(self.public_id(task.id), FLEX, FLEX, to, 1, task.complete_by, now)
            tp = task.traceparent
            self.announce.announce_escalation(task.tenant, task.webhook, TASK_ESCALATED, task.id, event, tp)
        return moved

    def _orphaned_long_task(self, task: Task, now: int) -> int:
        """A long task is IN_PROGRESS for as long as its execution runs; one whose execution ended without
        ending it (its runner kept dying, or the execution timed out) fails now."""
        if self.executions is None or not task.execution_arn or now - task.updated_at < self.after_ms:
            return 0
        if self.executions.status(task.execution_arn) not in ENDED:
            return 0
        log.warning("failing long task %s: its execution ended", task.id)
        outcome = fail_unclaimed(self.store, task, RUNNER_FAILED, "The long-task runner stopped without finishing it")
        return int(outcome == Outcome.FAILED)

    def _requeue(self, task: Task | None, now: int) -> int:
        if task is None or task.status != TaskStatus.CREATED or not task.visible():
            return 0  # running or ended (the index lags), or expired and left to TTL
        if task.batch_id is not None:
            return 0  # queued by its batch's job, again on every retry of it: waiting its turn, not lost
        if task.requeued_at is not None and now - task.requeued_at < self.after_ms:
            return 0
        try:
            # Marked first: a sweeper dying before the send leaves the mark, and a run `after_ms` later
            # sends it. Only while still CREATED: a worker may have claimed it since the read.
            self.store.transition(task.tenant, task.id, expect={TaskStatus.CREATED}, changes={"requeued_at": now})
        except ConditionFailed:
            return 0
        self.queue.send(TaskMessage(tenant=task.tenant, task_id=task.id, lane=lane_of(task)))
        log.warning("re-sent the message of an orphaned task %s", task.id)
        return 1
