"""A submit that waits for its task (`Prefer: wait=N`): the task read again, at growing intervals, until it ends
or the wait is over, under the tenant's cap on waiting submits (each holds a function instance)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from asyncinfer.domain.model import Task
from asyncinfer.store.base import TaskStore

FIRST_PAUSE_SECONDS = 0.05
LONGEST_PAUSE_SECONDS = 0.5
# The store's pool of holds counting a tenant's waiting submits.
WAITS = "waits"
# A hold outlives its wait by this much, so a crashed request's hold runs out soon after the wait would have.
HOLD_MARGIN_SECONDS = 30
# How a wait pauses between reads. The local stack, whose API functions share one process and take one request at
# a time, swaps in a pause that lets its other requests run meanwhile (infra/local/functions.py).
PAUSE: ContextVar[Callable[[float], None]] = ContextVar("wait_pause", default=time.sleep)


@contextmanager
def wait_held(store: TaskStore, tenant: str, seconds: int, limit: int) -> Iterator[bool]:
    """Whether the tenant may wait `seconds` now: True while it holds one of its `limit` waits (0: no cap), False
    when all are held (the submit then answers at once, as RFC 7240 lets a server ignore a preference)."""
    if not limit:
        yield True
        return
    holder = uuid.uuid4().hex
    now = int(time.time())
    if not store.hold_instance(WAITS, tenant, holder, until=now + seconds + HOLD_MARGIN_SECONDS, limit=limit, now=now):
        yield False
        return
    try:
        yield True
    finally:
        store.free_instance(WAITS, tenant, holder)


def until_ended(
    store: TaskStore,
    task: Task,
    seconds: float,
    *,
    clock: Callable[[], float] = time.monotonic,
    pause: Callable[[float], None] | None = None,
) -> Task:
    """`task` as it stands once it has ended, or when `seconds` have passed: whichever comes first."""
    pause = pause or PAUSE.get()
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
