"""Per-tenant slots for long tasks (issue 29): at most `cap` of one tenant's long tasks, batch items included,
run on the durable runner at once.

A long task takes a slot before the worker starts its execution and holds it until the task ends. A tenant's
slots are one item whose holders change only by conditional updates, so dispatchers racing for the last slot
cannot both take it: the bound is exact, whatever the number of workers dispatching at once. Nothing has to
give a slot back when a task ends (the runner, a cancel, the sweeper and a deadline all end tasks): a dispatch
that finds every slot taken reads how their holders stand, takes back those that ended, and tries once more.

A long task that finds no slot is neither failed nor charged an attempt, and its message's receives are not
used up: the worker's handler sends the message again, delayed (`WaitForSlot`), so it can wait as long as the
slots stay taken, and it runs when one frees (within about `wait_seconds`)."""

from __future__ import annotations

import logging
import math
import random
from collections.abc import Callable, Iterable
from dataclasses import KW_ONLY, dataclass
from typing import Protocol

from asyncinfer.domain.model import TERMINAL, Task, TaskStatus, now_ms
from asyncinfer.store.base import ConditionFailed, TaskStore

log = logging.getLogger(__name__)

# SQS's longest DelaySeconds.
MAX_DELAY_SECONDS = 900


class Slots(Protocol):
    def take(self, tenant: str, task_id: str, cap: int) -> list[str] | None:
        """Hold a slot (or keep the one held): None. All `cap` taken by others: their holders."""

    def give_back(self, tenant: str, task_ids: Iterable[str]) -> None: ...

    def status_of(self, tenant: str, task_id: str) -> TaskStatus | None:
        """The holder's status now; None when the task is gone."""


class WaitForSlot(Exception):
    """Every slot of the tenant is held by a running long task: the message must come back after
    `delay_seconds`, as a new message (a receive of this one would count towards the dead-letter queue)."""

    def __init__(self, message: str, *, delay_seconds: int) -> None:
        super().__init__(message)
        self.delay_seconds = delay_seconds


@dataclass
class LongSlots:
    slots: Slots
    store: TaskStore
    _: KW_ONLY
    cap: int  # 0: no cap
    wait_seconds: float
    jitter: Callable[[float, float], float] = random.uniform

    def acquire(self, task: Task) -> None:
        """Return once `task` holds one of its tenant's slots; WaitForSlot when they are all held."""
        if self.cap <= 0:
            return
        holders = self.slots.take(task.tenant, task.id, self.cap)
        if holders is None:
            return
        ended = [h for h in holders if self._ended(task.tenant, h)]
        if ended:
            self.slots.give_back(task.tenant, ended)
            holders = self.slots.take(task.tenant, task.id, self.cap)
            if holders is None:
                return
        self._mark_resent(task)
        raise WaitForSlot(
            f"{len(holders)} long tasks of this tenant are running (its cap is {self.cap})",
            delay_seconds=self.delay_seconds(),
        )

    def delay_seconds(self) -> int:
        """About `wait_seconds`, spread so that the tasks waiting together do not all look again together."""
        delay = math.ceil(self.wait_seconds * self.jitter(0.75, 1.25))
        return max(1, min(MAX_DELAY_SECONDS, delay))

    def _ended(self, tenant: str, task_id: str) -> bool:
        status = self.slots.status_of(tenant, task_id)
        return status is None or status in TERMINAL

    def _mark_resent(self, task: Task) -> None:
        """The message is about to be sent again: the sweeper, which re-sends the message of a task CREATED
        for long (asyncinfer.tasks.sweeper), must not add another one. A batch's items it never re-sends."""
        if task.batch_id is not None:
            return
        try:
            self.store.transition(task.tenant, task.id, expect={TaskStatus.CREATED}, changes={"requeued_at": now_ms()})
        except ConditionFailed:
            pass  # started or ended meanwhile: the sweeper leaves it alone anyway
        except Exception:
            log.warning("could not mark the waiting task %s as re-sent", task.id, exc_info=True)
