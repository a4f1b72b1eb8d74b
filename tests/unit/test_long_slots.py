"""Per-tenant long-task slots (asyncinfer.tasks.long_slots) with fakes: taking, waiting, taking back the slots
of holders that ended, and how long a waiting task's message is held back."""

from __future__ import annotations

from collections.abc import Iterable

import pytest

from asyncinfer.domain.model import Task, TaskKind, TaskStatus
from asyncinfer.store.base import ConditionFailed
from asyncinfer.tasks.long_slots import MAX_DELAY_SECONDS, LongSlots, WaitForSlot


class FakeSlots:
    """The DynamoDB item's semantics: at most `cap` holders, a holder taking again keeps its one slot."""

    def __init__(self, statuses: dict[str, TaskStatus | None] | None = None) -> None:
        self.holders: dict[str, set[str]] = {}
        self.statuses = statuses if statuses is not None else {}
        self.reads: list[str] = []

    def take(self, tenant: str, task_id: str, cap: int) -> list[str] | None:
        held = self.holders.setdefault(tenant, set())
        if task_id in held or len(held) < cap:
            held.add(task_id)
            return None
        return sorted(held)

    def give_back(self, tenant: str, task_ids: Iterable[str]) -> None:
        self.holders.get(tenant, set()).difference_update(task_ids)

    def status_of(self, tenant: str, task_id: str) -> TaskStatus | None:
        self.reads.append(task_id)
        return self.statuses.get(task_id)


class FakeStore:
    def __init__(self, fail: Exception | None = None) -> None:
        self.transitions: list[tuple[str, set, dict]] = []
        self.fail = fail

    def transition(self, tenant: str, task_id: str, *, expect, changes, **_) -> None:
        if self.fail is not None:
            raise self.fail
        self.transitions.append((task_id, set(expect), dict(changes)))


def task(task_id: str, batch_id: str | None = None) -> Task:
    return Task(
        id=task_id,
        tenant="acme",
        kind=TaskKind.CHAT,
        model="demo-deep-research",
        status=TaskStatus.CREATED,
        created_at=1,
        updated_at=1,
        batch_id=batch_id,
    )


def slots_of(fake: FakeSlots, store: FakeStore | None = None, cap: int = 2, wait: float = 30) -> LongSlots:
    return LongSlots(fake, store or FakeStore(), cap=cap, wait_seconds=wait, jitter=lambda low, high: 1.0)


def test_tasks_take_slots_up_to_the_cap_and_the_next_one_waits_to_be_sent_again():
    fake = FakeSlots({"a": TaskStatus.IN_PROGRESS, "b": TaskStatus.CREATED})
    store = FakeStore()
    slots = slots_of(fake, store)
    slots.acquire(task("a"))
    slots.acquire(task("b"))
    slots.acquire(task("a"))  # a duplicate message of a holder: it keeps its slot
    with pytest.raises(WaitForSlot) as waiting:
        slots.acquire(task("c"))
    assert fake.holders["acme"] == {"a", "b"}
    assert waiting.value.delay_seconds == 30
    assert "2 long tasks of this tenant are running (its cap is 2)" in str(waiting.value)
    assert sorted(fake.reads) == ["a", "b"]
    # It is sent again: the sweeper, which re-sends the messages of tasks CREATED for long, is told.
    ((task_id, expect, changes),) = store.transitions
    assert task_id == "c" and expect == {TaskStatus.CREATED} and set(changes) == {"requeued_at"}


@pytest.mark.parametrize("ended", [TaskStatus.COMPLETED, TaskStatus.FAILED, TaskStatus.CANCELLED, None])
def test_the_slot_of_a_holder_that_ended_or_is_gone_is_taken_back_by_the_next_task(ended):
    fake = FakeSlots({"a": TaskStatus.IN_PROGRESS, "b": ended})
    fake.holders["acme"] = {"a", "b"}
    slots_of(fake).acquire(task("c"))
    assert fake.holders["acme"] == {"a", "c"}


def test_other_tenants_slots_are_their_own():
    fake = FakeSlots()
    fake.holders["other"] = {"x", "y"}
    slots_of(fake).acquire(task("c"))
    assert fake.holders["acme"] == {"c"}


def test_no_cap_takes_no_slot():
    fake = FakeSlots()
    slots_of(fake, cap=0).acquire(task("a"))
    assert fake.holders == {}


def test_a_waiting_batch_item_is_not_marked_and_a_failed_mark_does_not_stop_the_wait():
    fake = FakeSlots({"a": TaskStatus.IN_PROGRESS})
    fake.holders["acme"] = {"a"}
    store = FakeStore()
    with pytest.raises(WaitForSlot):
        slots_of(fake, store, cap=1).acquire(task("b", batch_id="batch1"))
    assert store.transitions == []  # the sweeper never re-sends a batch's items
    for failure in (ConditionFailed(None), RuntimeError("throttled")):
        with pytest.raises(WaitForSlot):
            slots_of(fake, FakeStore(fail=failure), cap=1).acquire(task("c"))


def test_the_wait_is_spread_around_its_setting_and_within_what_sqs_can_delay():
    draws = iter([0.75, 1.25])
    slots = LongSlots(FakeSlots(), FakeStore(), cap=1, wait_seconds=30, jitter=lambda low, high: next(draws))
    assert [slots.delay_seconds(), slots.delay_seconds()] == [23, 38]
    assert LongSlots(FakeSlots(), FakeStore(), cap=1, wait_seconds=900).delay_seconds() <= MAX_DELAY_SECONDS
    shortest = LongSlots(FakeSlots(), FakeStore(), cap=1, wait_seconds=1, jitter=lambda low, high: 0.75)
    assert shortest.delay_seconds() == 1
    spread = {LongSlots(FakeSlots(), FakeStore(), cap=1, wait_seconds=30).delay_seconds() for _ in range(200)}
    assert min(spread) >= 23 and max(spread) <= 38 and len(spread) > 5
