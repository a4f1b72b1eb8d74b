"""What a submit must pass before its task is created, and what a repeated one gets instead: the tenant's in-flight cap
(an estimate each instance re-counts now and then), its rate window (counted in the table), and the replay of an
idempotency key (the task it made, its message sent again when the first submit may have died before sending it)."""

from __future__ import annotations

import time

from asyncinfer.domain.errors import IdempotencyConflict, RateLimited, TooManyInFlight
from asyncinfer.domain.lanes import lane_of
from asyncinfer.domain.model import Task, TaskStatus, now_ms
from asyncinfer.domain.submission import IDEMPOTENCY, SubmitLimits
from asyncinfer.queue.base import MessageQueue, TaskMessage
from asyncinfer.store.base import TaskStore

# A client's retry with the same idempotency key re-sends the message of a task still CREATED this long after
# its submit (the first submit may have died before sending it). Not the sweeper's threshold
# (orphan_after_seconds, 10 min): a retry re-sends one task once, so it may act sooner than a sweep of all.
REPLAY_RESEND_AFTER_MS = 60_000
INFLIGHT_RECOUNT_SECONDS = 1.0


class Admission:
    """Part of TaskService: its store, queue and limits are the service's, and so is the in-flight count
    each instance keeps per tenant."""

    store: TaskStore
    queue: MessageQueue
    limits: SubmitLimits
    _inflight_seen: dict[str, tuple[int, float, int]]

    def _check_rate(self, tenant: str) -> None:
        """Fixed windows per tenant, counted in the table (replays of an idempotency key are free)."""
        limits = self.limits
        if not limits.submits_per_window:
            return
        now = now_ms() // 1000
        window = now // limits.window_seconds
        if not self.store.count_submit(tenant, window, limits.submits_per_window, now + 2 * limits.window_seconds):
            retry_after = (window + 1) * limits.window_seconds - now
            raise RateLimited(
                f"More than {limits.submits_per_window} submits in {limits.window_seconds} s; retry in {retry_after} s",
                retry_after=max(1, retry_after),
            )

    def _check_inflight(self, tenant: str) -> None:
        """Read before the rate is counted, so a refused submit does not use up the window. The index
        lags writes by a moment, so the count is an estimate anyway: far below the limit, an instance
        re-counts only every second or every twentieth of the headroom, which spares most submits the
        read. A burst across many instances can overshoot by a little (the usage plan caps the rate)."""
        limit = self.limits.max_inflight
        if not limit:
            return
        now = time.monotonic()
        seen = self._inflight_seen.get(tenant)
        if seen is not None:
            count, at, admitted = seen
            if now - at < INFLIGHT_RECOUNT_SECONDS and admitted < (limit - count) // 20:
                self._inflight_seen[tenant] = (count, at, admitted + 1)
                return
        count = self.store.count_inflight(tenant, limit)
        self._inflight_seen[tenant] = (count, now, 1)
        if count >= limit:
            raise TooManyInFlight(
                f"{limit} tasks are already queued or running; retry when some have ended",
                retry_after=self.limits.inflight_retry_seconds,
            )

    def _replay(self, tenant: str, key: str, fp: str) -> Task | None:
        record = self.store.get_name(tenant, IDEMPOTENCY, key)
        if record is None:
            return None
        if record.fingerprint != fp:
            raise IdempotencyConflict("This idempotency key was already used with a different request")
        task = self.store.get(tenant, record.task_id)
        if task is None or task.expired():
            return None  # a new task may take the key (the stale name is overwritten)
        if task.deleted_at is not None:
            raise IdempotencyConflict("This idempotency key was used for a task that has since been deleted")
        if task.status == TaskStatus.CREATED and now_ms() - task.created_at > REPLAY_RESEND_AFTER_MS:
            # The first submit probably died before enqueueing: this brings the task to a worker. If it
            # did not, the duplicate message is harmless (every transition is a compare-and-set).
            self.queue.send(TaskMessage(tenant=tenant, task_id=task.id, lane=lane_of(task)))
        return task
