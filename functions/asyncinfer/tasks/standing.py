"""Where a queued task stands in its lane: its place in line (a count on the queued index) and when it should
start (its lane's recent starts). Reads share it, and so does the stream, which has only the table."""

from __future__ import annotations

from collections.abc import Callable

from asyncinfer.domain.lanes import Standing, estimate_start, lane_of
from asyncinfer.domain.model import Task, TaskStatus, now_ms
from asyncinfer.observability import tracing
from asyncinfer.store.base import TaskStore
from asyncinfer.store.schema import LANE_BUCKET_MS

# A queued task's place in line is counted up to this far; its start is estimated from its lane's starts
# over the last RATE_WINDOW_MS.
MAX_POSITION = 100_000
RATE_WINDOW_MS = 60_000

# A queued task's place in its lane and estimated start (None once it has started).
Standings = Callable[[Task], Standing | None]


def lane_standing(store: TaskStore, now: Callable[[], int] = now_ms) -> Standings:
    def standing(task: Task) -> Standing | None:
        if task.status != TaskStatus.CREATED:
            return None
        lane = lane_of(task)
        position = store.count_queued_before(lane, task.id, MAX_POSITION)
        # On the request's span: a submit's is the task's first, so its trace shows where the task came in.
        tracing.annotate(tracing.QUEUE_POSITION, position)
        # Only its tenant's own tasks ahead: they start in the order they came. Other tenants' ahead: fair
        # queues may start a quieter tenant's after it, or its after a quieter one's, so it is an estimate.
        own = store.count_queued_before(lane, task.id, position, task.tenant) if position else 0
        at = now()
        starts = store.starts_since(lane, at - RATE_WINDOW_MS)
        return Standing(position, estimate_start(at, position, starts, LANE_BUCKET_MS), estimated=own < position)

    return standing
