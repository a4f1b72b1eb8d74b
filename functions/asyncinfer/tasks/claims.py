"""The claim of a task, one protocol for the worker and the long-task runner (docs/architecture.md): a compare-and-set
to IN_PROGRESS with the next attempt, fenced by the attempt it read, so that of two claims one wins and a holder of an
earlier attempt can write nothing more. A task that missed a deadline is not claimed: it fails unclaimed."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from asyncinfer.domain.deadlines import finish_by_at_start, missed
from asyncinfer.domain.model import Task, TaskStatus, sources_of
from asyncinfer.store.base import ConditionFailed, TaskStore
from asyncinfer.tasks.outcomes import Outcome, fail_unclaimed

log = logging.getLogger(__name__)


class NotClaimed(Exception):
    """The task was not claimed: the attempt ends in `outcome`."""

    def __init__(self, outcome: Outcome) -> None:
        super().__init__(outcome.value)
        self.outcome = outcome


def claim(
    store: TaskStore,
    task: Task,
    now: int,
    lease_until: int,
    *,
    admit: Callable[[Task], Outcome | None] | None = None,
    fresh: bool = False,
    lost: Outcome = Outcome.DROPPED,
) -> Task:
    """Claim `task`, as read, at `now` with a lease until `lease_until`: the claimed task, else NotClaimed. A missed
    deadline fails it unclaimed; then `admit`, the caller's own rules, may end the attempt otherwise; a task changed
    since it was read ends it in `lost`. A `fresh` claim (the worker's) takes only a lapsed lease and starts from
    nothing; the runner's takes the task from an earlier invocation of its own, still running or not."""
    if late := missed(task, now):
        raise NotClaimed(fail_unclaimed(store, task, *late))
    if admit is not None and (outcome := admit(task)) is not None:
        raise NotClaimed(outcome)
    try:
        claimed = store.transition(
            task.tenant,
            task.id,
            expect=sources_of(TaskStatus.IN_PROGRESS),
            attempt=task.attempt,
            lease_expired_at=now if fresh else None,
            changes=claim_changes(task, now, lease_until),
            # A new attempt starts from nothing: what an earlier one produced is not charged (its retry is
            # ours to pay), and this one's output is counted afresh from its first flush.
            remove=["produced"] if fresh else (),
        )
    except ConditionFailed:
        raise NotClaimed(lost) from None
    watch_deadline(store, task, claimed)
    return claimed


def claim_changes(task: Task, now: int, lease_expires_at: int) -> dict[str, Any]:
    """A worker's or the runner's claim of `task` at `now`: the next attempt, its lease, and on the first
    start the start time and the end deadline it fixes (an execution timeout counts from the start)."""
    started = task.started_at or now
    changes: dict[str, Any] = {
        "status": TaskStatus.IN_PROGRESS,
        "attempt": task.attempt + 1,
        "lease_expires_at": lease_expires_at,
        "started_at": started,
        "updated_at": now,
    }
    if (finish_by := finish_by_at_start(task, started)) is not None:
        changes["finish_by"] = finish_by
    return changes


def watch_deadline(store: TaskStore, before: Task, claimed: Task) -> None:
    """An end deadline fixed by this claim is watched by the sweeper too (one the task had was watched
    since its creation). Best effort: the worker and the runner keep it themselves while they run."""
    if claimed.finish_by is None or claimed.finish_by == before.finish_by:
        return
    try:
        store.add_due(claimed.tenant, claimed.id, claimed.finish_by)
    except Exception:
        log.warning("could not have the sweeper watch the deadline of %s", claimed.id, exc_info=True)
