"""`Prefer: wait=N` (RFC 7240): what a submit reads of the header, and how long it waits for its task."""

from __future__ import annotations

import pytest

from asyncinfer.domain.model import Task, TaskKind, TaskStatus
from asyncinfer.domain.prefer import MAX_WAIT_SECONDS, preferences, wait_seconds
from asyncinfer.tasks.waiting import WAITS, until_ended, wait_held


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("wait=5", 5),
        ("Wait = 5", 5),
        ('wait="7"', 7),
        ("respond-async, wait=10", 10),
        ("wait=3; foo=bar, return=minimal", 3),
        ("wait=2, wait=9", 2),  # the first of a name wins (RFC 7240 section 2)
        (f"wait={MAX_WAIT_SECONDS * 10}", MAX_WAIT_SECONDS),
        ("wait=0", None),
        ("wait=-1", None),
        ("wait=1.5", None),
        ("wait", MAX_WAIT_SECONDS),  # as Replicate takes it: its longest wait
        ("wait=", MAX_WAIT_SECONDS),
        ("wait=\uff15", None),  # a full-width digit five is not a number of seconds
        ("respond-async", None),
        ("", None),
        (None, None),
        ("=5,,;", None),
    ],
)
def test_wait_seconds_reads_rfc_7240_and_ignores_what_does_not_parse(header, seconds):
    assert wait_seconds(header) == seconds


def test_preferences_are_lower_cased_with_their_values():
    assert preferences("Respond-Async, WAIT=4;x=1, handling=lenient") == {
        "respond-async": "",
        "wait": "4",
        "handling": "lenient",
    }


class Clock:
    def __init__(self) -> None:
        self.now = 0.0
        self.pauses: list[float] = []

    def __call__(self) -> float:
        return self.now

    def pause(self, seconds: float) -> None:
        self.pauses.append(seconds)
        self.now += seconds


class Store:
    """Reads of one task, whose status turns to `later` after `after` reads."""

    def __init__(self, task: Task, later: TaskStatus | None, after: int) -> None:
        self.task, self.later, self.after, self.reads = task, later, after, 0

    def get(self, tenant: str, task_id: str) -> Task | None:
        assert (tenant, task_id) == (self.task.tenant, self.task.id)
        self.reads += 1
        if self.later is not None and self.reads >= self.after:
            return self.task.model_copy(update={"status": self.later})
        return self.task


def queued() -> Task:
    return Task(id="t1", tenant="acme", kind=TaskKind.CHAT, model="demo-chat", created_at=0, updated_at=0)


def test_the_wait_ends_when_the_task_ends():
    clock = Clock()
    store = Store(queued(), TaskStatus.COMPLETED, after=3)
    ended = until_ended(store, queued(), 5, clock=clock, pause=clock.pause)
    assert ended.status == TaskStatus.COMPLETED
    assert store.reads == 3
    assert clock.now < 1  # pauses grow from 50 ms: 0.05 + 0.1 + 0.2


def test_the_wait_gives_up_when_its_seconds_are_over_with_the_task_as_it_then_stands():
    clock = Clock()
    store = Store(queued(), TaskStatus.IN_PROGRESS, after=2)
    seen = until_ended(store, queued(), 5, clock=clock, pause=clock.pause)
    assert seen.status == TaskStatus.IN_PROGRESS
    assert clock.now == pytest.approx(5)
    assert max(clock.pauses) <= 0.5  # never more than half a second between two reads


def test_an_ended_task_is_not_read_again():
    clock = Clock()
    done = queued().model_copy(update={"status": TaskStatus.FAILED})
    store = Store(done, None, after=0)
    assert until_ended(store, done, 5, clock=clock, pause=clock.pause) is done
    assert store.reads == 0


class Holds:
    """A tenant's holds, as the store keeps them (running out is the store's; here none do)."""

    def __init__(self) -> None:
        self.held: set[tuple[str, str, str]] = set()

    def hold_instance(self, pool: str, tenant: str, holder: str, *, until: int, limit: int, now: int) -> bool:
        assert until > now
        if sum(1 for p, t, _ in self.held if (p, t) == (pool, tenant)) >= limit:
            return False
        self.held.add((pool, tenant, holder))
        return True

    def free_instance(self, pool: str, tenant: str, holder: str) -> None:
        self.held.discard((pool, tenant, holder))


def test_a_tenant_waits_up_to_its_cap_and_each_wait_gives_its_hold_back():
    holds = Holds()
    with (
        wait_held(holds, "acme", 5, 2) as first,
        wait_held(holds, "acme", 5, 2) as second,
        wait_held(holds, "acme", 5, 2) as third,
        wait_held(holds, "other", 5, 2) as elsewhere,
    ):
        assert (first, second, third, elsewhere) == (True, True, False, True)
        assert {(pool, tenant) for pool, tenant, _ in holds.held} == {(WAITS, "acme"), (WAITS, "other")}
    assert holds.held == set()
    with wait_held(holds, "acme", 5, 2) as again:
        assert again


def test_a_wait_gives_its_hold_back_when_it_fails_and_no_cap_touches_no_store():
    holds = Holds()
    with pytest.raises(RuntimeError), wait_held(holds, "acme", 5, 1):
        raise RuntimeError("the read failed")
    assert holds.held == set()
    with wait_held(None, "acme", 5, 0) as held:  # type: ignore[arg-type]
        assert held
