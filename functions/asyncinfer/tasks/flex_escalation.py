"""`complete_by` in the flex class: a batch's items that no provider batch job takes, and a single task, start in
flex (the cheapest class the tenant may use) and move to on-demand once flex would no longer end them in time
(asyncinfer.domain.escalation). The sweeper looks at each at its escalate time (a `_due` item); there the time is
reckoned again with what is known then, and either the waiting flex items move or the next look is set."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from asyncinfer.domain.catalog import LOCAL, ModelRegistry
from asyncinfer.domain.deadlines import escalate_at
from asyncinfer.domain.errors import ClassNotAllowed
from asyncinfer.domain.escalation import Outlook, escalation_tier, item_ms, should_escalate, start_tier
from asyncinfer.domain.lanes import estimate_start
from asyncinfer.domain.model import ServiceTier, Task, TaskStatus
from asyncinfer.domain.records import Batch
from asyncinfer.queue.base import MessageQueue
from asyncinfer.store.base import TaskStore
from asyncinfer.store.schema import LANE_BUCKET_MS
from asyncinfer.tasks.escalation import escalate
from asyncinfer.tasks.standing import MAX_POSITION, RATE_WINDOW_MS

FLEX = ServiceTier.FLEX.value
DEFAULT = ServiceTier.DEFAULT.value


class PaceSettings(Protocol):
    """The deployment's settings the estimates take (asyncinfer.config.EscalationSettings)."""

    default_lane_slots: int
    priority_lane_slots: int
    escalation_sweep_seconds: int
    demo_chat_seconds: float


@dataclass(frozen=True)
class Pace:
    """On-demand's capacity as `complete_by`'s estimates take it: the lanes' slots, how long a model's item takes,
    and how late the sweeper may look (it runs every `sweep_ms`)."""

    registry: ModelRegistry | None = None
    default_slots: int = 20
    priority_slots: int = 0
    sweep_ms: int = 60_000
    demo_seconds: float | None = None

    @classmethod
    def of(cls, settings: PaceSettings, registry: ModelRegistry | None) -> Pace:
        return cls(
            registry=registry,
            default_slots=settings.default_lane_slots,
            priority_slots=settings.priority_lane_slots,
            sweep_ms=settings.escalation_sweep_seconds * 1000,
            demo_seconds=settings.demo_chat_seconds,
        )

    def item_ms(self, models: Iterable[str]) -> int:
        """The slowest of `models`' on-demand pace (a model not known: the conservative default)."""
        paces = []
        for model in set(models):
            spec = self.registry.models.get(model) if self.registry is not None else None
            if spec is None:
                return item_ms(None)
            paces.append(item_ms(spec.item_seconds, self.demo_seconds if spec.provider == LOCAL else None))
        return max(paces, default=item_ms(None))

    def tier(self, store: TaskStore, tenant: str, outlook: Outlook) -> str:
        allowed = _may_use(store, tenant, ServiceTier.PRIORITY)
        return escalation_tier(outlook, self.default_slots, self.priority_slots, allowed)


def _may_use(store: TaskStore, tenant: str, tier: ServiceTier) -> bool:
    try:
        store.get_settings(tenant).check_class(tier)
    except ClassNotAllowed:
        return False
    return True


def start_path(store: TaskStore, tenant: str) -> str:
    """The class a `complete_by` item starts in when no provider batch job takes it."""
    return start_tier(_may_use(store, tenant, ServiceTier.FLEX))


def flex_finish_ms(store: TaskStore, now: int, waiting: list[Task], one_item_ms: int) -> int | None:
    """When the flex lane should end the last of `waiting` at its recent pace; None while it started nothing."""
    if not waiting:
        return None
    starts = store.starts_since(FLEX, now - RATE_WINDOW_MS)
    if not starts:
        return None
    last = max(task.id for task in waiting)
    position = store.count_queued_before(FLEX, last, MAX_POSITION)
    start = estimate_start(now, position, starts, LANE_BUCKET_MS)
    return None if start is None else start + one_item_ms


@dataclass(frozen=True)
class Look:
    """What a look at a `complete_by` batch's (or task's) flex items found: the class they move to (and, once moved,
    how many), or None while they stay, with `next_at` the next look."""

    tier: str | None = None
    moved: int = 0
    next_at: int | None = None


def batch_look(store: TaskStore, pace: Pace, batch: Batch, waiting: list[Task], unmade: bool, now: int) -> Look | None:
    """Whether a `complete_by` batch's `waiting` items (CREATED, in a class) must leave flex now, and for which class;
    else when to look again. Once the batch escalated, the class they went to (its items are sent there again: a
    crash between a move and its send must not strand them). None when nothing waits in flex."""
    flex = [task for task in waiting if task.path == FLEX]
    if batch.escalated_at is not None:
        moved = {task.path for task in waiting}
        return Look(tier=ServiceTier.PRIORITY.value if ServiceTier.PRIORITY.value in moved else DEFAULT)
    if batch.complete_by is None or not (flex or unmade):
        return None
    one = pace.item_ms(task.model for task in flex)
    cheap = flex_finish_ms(store, now, flex, one)
    outlook = Outlook(now, batch.complete_by, batch.total - batch.ended, one, pace.default_slots, cheap)
    if should_escalate(outlook):
        return Look(tier=pace.tier(store, batch.tenant, outlook))
    at = escalate_at(batch.complete_by, outlook.remaining, one, pace.default_slots, pace.sweep_ms)
    return Look(next_at=max(at, now + 1))


def look_at_task(store: TaskStore, lanes: MessageQueue, pace: Pace, task: Task, now: int) -> Look | None:
    """A single flex `complete_by` task at one of its due times: moved to on-demand once its own escalate time has
    come; else the time of the next look. None when it is not such a task (or no longer waits in flex)."""
    if task.batch_id is not None or task.complete_by is None or task.status != TaskStatus.CREATED:
        return None
    if task.path != FLEX:
        return None
    one = pace.item_ms([task.model])
    at = escalate_at(task.complete_by, 1, one, pace.default_slots, pace.sweep_ms)
    if now < at:
        return Look(next_at=at)
    outlook = Outlook(now, task.complete_by, 1, one, pace.default_slots)
    tier = pace.tier(store, task.tenant, outlook)
    return Look(tier=tier, moved=escalate(store, lanes, [task], tier))
