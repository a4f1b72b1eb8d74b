"""Finds tasks still CREATED long after their submit and sends their message again.

A submit that dies between writing the task and SendMessage leaves a task no worker will ever see.
A client retrying with its idempotency key brings it back (TaskService._replay); the sweeper catches
the rest. A duplicate message is harmless (every transition is a compare-and-set), and each task is
re-sent at most once per `after_ms`, so a queue backlog is not doubled on every run.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from asyncinfer.domain.model import TaskStatus, first_id_at, now_ms
from asyncinfer.queue.base import MessageQueue, TaskMessage
from asyncinfer.store.base import ConditionFailed, TaskStore

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SweepReport:
    examined: int = 0
    requeued: int = 0


class Sweeper:
    def __init__(self, store: TaskStore, queue: MessageQueue, after_ms: int, page_size: int = 100) -> None:
        self.store = store
        self.queue = queue
        self.after_ms = after_ms
        self.page_size = page_size

    def sweep(self, at_ms: int | None = None) -> SweepReport:
        now = now_ms() if at_ms is None else at_ms
        before = first_id_at(now - self.after_ms)
        examined = requeued = 0
        cursor = None
        while True:
            found, cursor = self.store.inflight_before(before, self.page_size, cursor)
            for tenant, task_id in found:
                examined += 1
                requeued += self._requeue(tenant, task_id, now)
            if cursor is None:
                return SweepReport(examined, requeued)

    def _requeue(self, tenant: str, task_id: str, now: int) -> int:
        task = self.store.get(tenant, task_id)
        if task is None or task.status != TaskStatus.CREATED or not task.visible():
            return 0  # running or ended (the index lags), or expired and left to TTL
        if task.batch_id is not None:
            return 0  # queued by its batch's job, again on every retry of it: waiting its turn, not lost
        if task.requeued_at is not None and now - task.requeued_at < self.after_ms:
            return 0
        try:
            # Marked first: a sweeper dying before the send leaves the mark, and a run `after_ms` later
            # sends it. Only while still CREATED: a worker may have claimed it since the read.
            self.store.transition(tenant, task_id, expect={TaskStatus.CREATED}, changes={"requeued_at": now})
        except ConditionFailed:
            return 0
        self.queue.send(TaskMessage(tenant=tenant, task_id=task_id))
        log.warning("re-sent the message of an orphaned task %s", task_id)
        return 1
