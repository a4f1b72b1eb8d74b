"""A submit that waits for its task (`Prefer: wait=N`): the task read again, at growing intervals, until it ends
or the wait is over."""

from __future__ import annotations

import time
from collections.abc import Callable

from asyncinfer.domain.model import Task
from asyncinfer.store.base import TaskStore

FIRST_PAUSE_SECONDS = 0.05
LONGEST_PAUSE_SECONDS = 0.5


def until_ended(
    store: TaskStore,
    task: Task,
    seconds: float,
    *,
    clock: Callable[[], float] = time.monotonic,
    pause: Callable[[float], None] = time.sleep,
) -> Task:
    """`task` as it stands once it has ended, or when `seconds` have passed: whichever comes first."""
    deadline = clock() + seconds
    interval = FIRST_PAUSE_SECONDS
    while not task.terminal:
        left = deadline - clock()
        if left <= 0:
            break
        pause(min(interval, left))
        interval = min(interval * 2, LONGEST_PAUSE_SECONDS)
        current = store.get(task.tenant, task.id)
        if current is None:  # deleted meanwhile: the submit's answer still names it
            break
        task = current
    return task
