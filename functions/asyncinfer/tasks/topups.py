"""A model turn after a task's first is reserved before it starts. The submit reserved one turn's bound
(asyncinfer.domain.reservations); before each further turn of a tool loop or a long task its reservation becomes what it
has used so far plus the next turn's bound, so spent + reserved keeps below the limit however many turns it takes. A
turn that does not fit is not started: the task fails `budget_exceeded`, charged what it produced."""

from __future__ import annotations

from datetime import date
from typing import Any

from asyncinfer.domain.budgets import day_of, dollars, money, period_label
from asyncinfer.domain.catalog import ModelSpec
from asyncinfer.domain.model import Task, TaskStatus, Usage, now_ms
from asyncinfer.domain.reservations import Hold, from_e8, to_e8, turn_bound
from asyncinfer.providers.base import ProviderError
from asyncinfer.store.base import ConditionFailed, HoldRefused, TaskStore
from asyncinfer.tasks.event_log import ClaimLost

ATTEMPTS = 5


def reserve_turn(store: TaskStore, task: Task, spec: ModelSpec, request: dict[str, Any], used: Usage) -> None:
    """Before the next turn of `request`: `task`'s reservation becomes what it `used` so far (priced) and the
    turn's bound, in the periods that hold its first. ClaimLost once the task is no longer this attempt's."""
    bound = to_e8(turn_bound(spec, request))
    if bound <= 0:
        return
    cost = to_e8(money(used.cost.total_cost)) if used.cost is not None else 0
    for _ in range(ATTEMPTS):
        current = store.get(task.tenant, task.id)
        if current is None or current.attempt != task.attempt or current.status != TaskStatus.IN_PROGRESS:
            raise ClaimLost()
        day = date.fromisoformat(current.reserved_day) if current.reserved_day else day_of(now_ms())
        hold = Hold(day, cost + bound, store.get_settings(task.tenant).budget)
        try:
            store.rehold(current, hold)
            return
        except ConditionFailed:
            continue  # read again: cancelled (the next read says so), or re-reserved meanwhile
        except HoldRefused as refused:
            raise _refusal(refused, hold, bound) from None
    raise ClaimLost()


def _refusal(refused: HoldRefused, hold: Hold, bound: int) -> ProviderError:
    spent, reserved = from_e8(refused.held_e8 - refused.reserved_e8), from_e8(refused.reserved_e8)
    limit = hold.budget.limit(refused.period) or from_e8(0)
    return ProviderError(
        "budget_exceeded",
        f"The next model turn would reserve {dollars(from_e8(bound))} more, which does not fit in this tenant's "
        f"{refused.period.value} budget of {dollars(limit)} ({period_label(refused.period, hold.day)}, UTC): "
        f"{dollars(spent)} spent and {dollars(reserved)} reserved. The task stopped before it",
        retryable=False,
    )
