"""complete_by in flex (asyncinfer.tasks.flex_escalation): a single flex task's due times, a model's on-demand pace,
and a batch's look at its items waiting in flex."""

from dataclasses import dataclass, field

from asyncinfer.domain.deadlines import due_times, escalate_at
from asyncinfer.domain.model import ServiceTier, Task, TaskKind, TaskStatus, new_task_id
from asyncinfer.domain.records import Batch, BatchEndpoint
from asyncinfer.domain.tenants import TenantSettings
from asyncinfer.providers.registry import load_registry
from asyncinfer.tasks.flex_escalation import Pace, batch_look, start_path

NOW = 1_800_000_000_000
HOUR = 3_600_000


def task(**fields) -> Task:
    return Task(
        id=new_task_id(NOW),
        tenant="acme",
        kind=TaskKind.CHAT,
        model="demo-chat",
        created_at=NOW,
        updated_at=NOW,
        **fields,
    )


@dataclass
class Store:
    classes: frozenset[ServiceTier] | None = None
    starts: list[tuple[int, int]] = field(default_factory=list)
    ahead: int = 0

    def get_settings(self, tenant: str) -> TenantSettings:
        return TenantSettings(classes=self.classes)

    def starts_since(self, lane: str, since_ms: int) -> list[tuple[int, int]]:
        return self.starts

    def count_queued_before(self, lane: str, task_id: str, limit: int, tenant: str | None = None) -> int:
        return self.ahead


def test_a_single_flex_complete_by_task_is_first_looked_at_as_if_on_demand_were_slow():
    flex = task(complete_by=NOW + HOUR, path="flex", service_tier="flex", start_by=NOW + 2 * HOUR)
    # A minute an item with the margin of 2, and a minute's sweep, before its complete_by.
    assert due_times(flex) == [NOW + HOUR - 180_000, NOW + 2 * HOUR]
    assert due_times(task(complete_by=NOW + HOUR, path="default")) == []
    assert due_times(task(complete_by=NOW + HOUR, path="flex", status=TaskStatus.IN_PROGRESS)) == []
    assert due_times(task(complete_by=NOW + HOUR, path="flex", batch_id="b", batch_index=0)) == []


def test_a_model_s_pace_is_its_own_the_demo_models_or_a_conservative_minute():
    registry = load_registry()
    pace = Pace(registry=registry, demo_seconds=1.5)
    assert pace.item_ms(["demo-chat"]) == 1500  # a local model: the demo pace
    assert Pace(registry=registry).item_ms(["demo-chat"]) == 60_000
    assert pace.item_ms(["no-such-model"]) == 60_000
    assert pace.item_ms([]) == 60_000


def test_a_complete_by_item_starts_in_flex_unless_the_tenant_may_not_use_it():
    assert start_path(Store(), "acme") == "flex"  # type: ignore[arg-type]
    assert start_path(Store(classes=frozenset({ServiceTier.DEFAULT})), "acme") == "default"  # type: ignore[arg-type]


def batch(complete_by: int, total: int = 40, **fields) -> Batch:
    return Batch(
        id="b1",
        tenant="acme",
        endpoint=BatchEndpoint.ASYNC,
        total=total,
        created_at=NOW,
        updated_at=NOW,
        input_key="k",
        complete_by=complete_by,
        **fields,
    )


def flex_items(n: int) -> list[Task]:
    return [task(path="flex", service_tier="flex", batch_id="b1", batch_index=i) for i in range(n)]


PACE = Pace(default_slots=20, priority_slots=10, sweep_ms=5_000)


def test_a_batch_s_flex_items_stay_until_their_latest_switch_less_a_sweep():
    # 40 items, 20 slots: 2 rounds of a minute each, with the margin 4 minutes of on-demand.
    look = batch_look(Store(), PACE, batch(NOW + HOUR), flex_items(40), False, NOW)  # type: ignore[arg-type]
    assert look is not None and look.tier is None
    assert look.next_at == NOW + HOUR - 240_000 - 5_000 == escalate_at(NOW + HOUR, 40, 60_000, 20, 5_000)


def test_a_batch_s_flex_items_move_at_the_switch_or_when_flex_would_end_too_late():
    late = batch_look(Store(), PACE, batch(NOW + 200_000), flex_items(40), False, NOW)  # type: ignore[arg-type]
    assert late is not None and late.tier == "priority"  # the default class no longer ends them in time
    limited = Store(classes=frozenset({ServiceTier.DEFAULT, ServiceTier.FLEX}))
    assert batch_look(limited, PACE, batch(NOW + 200_000), flex_items(40), False, NOW).tier == "default"  # type: ignore[arg-type, union-attr]
    # Flex starts one item every 10 s lately and 500 wait ahead: the last ends long after complete_by.
    slow = Store(starts=[(NOW - 10_000, 1)], ahead=500)
    look = batch_look(slow, PACE, batch(NOW + HOUR), flex_items(40), False, NOW)  # type: ignore[arg-type]
    assert look is not None and look.tier == "default"


def test_an_escalated_batch_sends_its_moved_items_again_and_nothing_waiting_means_no_look():
    moved = [task(path="default", service_tier="default", batch_id="b1", batch_index=0)]
    look = batch_look(Store(), PACE, batch(NOW + HOUR, escalated_at=NOW), moved, False, NOW)  # type: ignore[arg-type]
    assert look is not None and look.tier == "default"
    assert batch_look(Store(), PACE, batch(NOW + HOUR), [], False, NOW) is None  # type: ignore[arg-type]
    assert batch_look(Store(), PACE, batch(NOW + HOUR), [], True, NOW).next_at is not None  # type: ignore[arg-type, union-attr]
