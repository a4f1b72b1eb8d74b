"""A worker invocation that keeps its instance full (asyncinfer.handlers.instance), against a fake queue: it
receives as slots free, stops at its horizon, under memory pressure and on an empty poll, hands back what has
not started at the drain, and ends each message as the event source would."""

from __future__ import annotations

import itertools
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from asyncinfer.handlers.instance import Instance, SlotPolicy, rss_bytes
from asyncinfer.queue.refill import Delivery
from asyncinfer.tasks.long_slots import WaitForSlot
from asyncinfer.tasks.outcomes import RetryLater

_ids = itertools.count()


def delivery(task: str = "", receives: int = 1) -> Delivery:
    n = next(_ids)
    body = json.dumps({"tenant": "t", "task_id": task or f"task-{n}"})
    return Delivery(message_id=f"m{n}", receipt_handle=f"h{n}", body=body, receives=receives, group="t")


class FakeLane:
    def __init__(self, waiting: list[Delivery] | None = None) -> None:
        self.waiting = list(waiting or [])
        self.asked: list[int] = []
        self.deleted: list[str] = []
        self.held: dict[str, int] = {}
        self.sent_again: list[tuple[str, int]] = []
        self.lock = threading.Lock()

    def receive(self, most: int, wait_seconds: int) -> list[Delivery]:
        with self.lock:
            self.asked.append(most)
            got, self.waiting = self.waiting[:most], self.waiting[most:]
            return got

    def delete(self, handles):
        with self.lock:
            self.deleted.extend(handles)

    def hold(self, handle: str, seconds: int) -> None:
        with self.lock:
            self.held[handle] = seconds

    def send_again(self, delivery: Delivery, delay_seconds: int) -> None:
        with self.lock:
            self.sent_again.append((delivery.body, delay_seconds))


class Clock:
    """The invocation's remaining time, moved by the test (or by each task)."""

    def __init__(self, ms: int = 300_000) -> None:
        self.ms = ms

    def __call__(self) -> int:
        return self.ms


class Runs:
    """A task runner that records how many run at once, taking `seconds` each (and `cost` ms off the clock)."""

    def __init__(self, clock: Clock, seconds: float = 0.01, cost: int = 0, outcome=None) -> None:
        self.clock, self.seconds, self.cost, self.outcome = clock, seconds, cost, outcome
        self.now = self.most = 0
        self.ran: list[str] = []
        self.lock = threading.Lock()

    def __call__(self, message) -> str:
        with self.lock:
            self.now += 1
            self.most = max(self.most, self.now)
            self.ran.append(message.task_id)
        try:
            time.sleep(self.seconds)
            with self.lock:
                self.clock.ms -= self.cost
            if self.outcome is not None:
                return self.outcome(message)
            return "completed"
        finally:
            with self.lock:
                self.now -= 1


def policy(**overrides) -> SlotPolicy:
    values = {"slots": 4, "refill": True, "horizon_ms": 150_000, "drain_ms": 10_000, "wait_seconds": 1}
    return SlotPolicy(**{**values, **overrides})


@pytest.fixture
def pool():
    with ThreadPoolExecutor(max_workers=16) as executor:
        yield executor


def test_it_receives_as_slots_free_runs_at_most_its_slots_and_deletes_what_it_received(pool):
    clock = Clock()
    lane = FakeLane([delivery() for _ in range(13)])
    runs = Runs(clock)
    event = [delivery()]
    instance = Instance(runs, lane, policy(slots=4), clock, pool)
    assert instance.serve(event) == []
    assert len(runs.ran) == 14 and runs.most <= 4 and instance.most_running <= 4
    assert all(1 <= asked <= 4 for asked in lane.asked), lane.asked  # never more than the free slots
    assert lane.asked[0] == 3  # the event's message took one of the four
    assert len(lane.deleted) == len(set(lane.deleted)) == 13
    assert event[0].receipt_handle not in lane.deleted  # the event source deletes the event's own
    assert instance.received == 13 and instance.counts["TasksCompleted"] == 14


def test_it_stops_receiving_at_its_horizon(pool):
    clock = Clock(200_000)
    lane = FakeLane([delivery() for _ in range(20)])
    runs = Runs(clock, cost=20_000)  # each task takes 20 s of the invocation
    Instance(runs, lane, policy(slots=1, horizon_ms=150_000), clock, pool).serve([delivery()])
    # 200 s at the start: tasks end at 180 s and 160 s left (receives), then 140 s (below the horizon).
    assert len(runs.ran) == 3 and len(lane.waiting) == 18


def test_an_empty_poll_ends_the_receiving_and_only_a_found_backlog_is_long_polled(pool):
    clock = Clock()
    lane = FakeLane([])
    waits: list[int] = []
    real = lane.receive
    lane.receive = lambda most, wait_seconds: waits.append(wait_seconds) or real(most, wait_seconds)
    Instance(Runs(clock, seconds=0.3), lane, policy(), clock, pool).serve([delivery()])
    # One short poll while the event's task ran: nothing waiting, so the instance ends with its task.
    assert waits == [0]
    waits.clear()
    Instance(Runs(clock, seconds=0), lane, policy(), clock, pool).serve([])
    assert waits == [0]
    waits.clear()
    lane.waiting = [delivery() for _ in range(2)]
    Instance(Runs(clock, seconds=0.3), lane, policy(slots=8), clock, pool).serve([delivery()])
    assert waits == [0, 1]  # it found messages waiting: the next poll waits for more while tasks run


def test_memory_pressure_stops_receiving(pool):
    clock = Clock()
    lane = FakeLane([delivery() for _ in range(10)])
    runs = Runs(clock)
    instance = Instance(runs, lane, policy(memory_limit_bytes=800), clock, pool, rss=lambda: 900)
    instance.serve([delivery()])
    assert lane.asked == [] and len(runs.ran) == 1
    # Below the limit it receives; where memory cannot be read, it does too.
    lane = FakeLane([delivery() for _ in range(3)])
    Instance(Runs(clock), lane, policy(memory_limit_bytes=800), clock, pool, rss=lambda: None).serve([])
    assert lane.waiting == [] and len(lane.deleted) == 3
    assert rss_bytes() is None or rss_bytes() > 0


def test_the_drain_hands_back_what_has_not_started(pool):
    clock = Clock(30_000)
    runs = Runs(clock, seconds=0.05, cost=15_000)  # the first task leaves less than the drain margin
    event = [delivery() for _ in range(3)]
    lane = FakeLane([delivery() for _ in range(5)])
    instance = Instance(runs, lane, policy(slots=1, horizon_ms=0, drain_ms=20_000), clock, pool)
    failed = instance.serve(event)
    assert len(runs.ran) == 1
    # The event's other two are sent again as new messages (no receive spent), so the event source deletes them
    # (not reported failed); nothing more was received.
    assert failed == [] and lane.held == {}
    assert sorted(lane.sent_again) == sorted([(event[1].body, 0), (event[2].body, 0)])
    assert lane.asked == [] and instance.counts["MessagesHandedBack"] == 2


def test_a_hand_back_that_cannot_be_sent_leaves_the_message_visible_again(pool):
    clock = Clock(30_000)
    runs = Runs(clock, seconds=0.05, cost=15_000)
    event = [delivery() for _ in range(2)]
    lane = FakeLane()

    def refused(delivery, delay_seconds):
        raise RuntimeError("SendMessage refused")

    lane.send_again = refused
    failed = Instance(runs, lane, policy(slots=1, horizon_ms=0, drain_ms=20_000), clock, pool).serve(event)
    assert failed == [event[1].message_id] and lane.held == {event[1].receipt_handle: 0}


def test_a_received_message_not_started_by_the_drain_is_handed_back(pool):
    clock = Clock(100_000)
    gate, started = threading.Event(), threading.Event()
    lane = FakeLane([delivery() for _ in range(3)])

    def run(message):
        started.set()
        gate.wait(5)
        return "completed"

    with ThreadPoolExecutor(max_workers=1) as one_thread:  # the process's pool is smaller than the slots
        instance = Instance(run, lane, policy(slots=3, horizon_ms=0, drain_ms=20_000), clock, one_thread)
        serving = threading.Thread(target=instance.serve, args=([],))
        serving.start()
        assert started.wait(5)
        deadline = time.monotonic() + 5
        while len(lane.waiting) and time.monotonic() < deadline:
            time.sleep(0.01)
        clock.ms = 10_000  # past the drain: the two queued behind the running one are handed back
        gate.set()
        serving.join(10)
    # The two not started: sent again as new messages and deleted, with the one that ran.
    assert len(lane.deleted) == 3 and lane.held == {} and [d for _, d in lane.sent_again] == [0, 0]
    assert instance.counts["MessagesHandedBack"] == 2


def test_each_ending_follows_the_event_source_rules(pool):
    clock = Clock()
    retry, wait, broken, fine = (delivery(name, receives=3) for name in ("retry", "wait", "broken", "fine"))
    malformed = Delivery(message_id="bad", receipt_handle="hbad", body="{not json")

    def outcome(message):
        if message.task_id == "retry":
            raise RetryLater("429", lease_left_ms=4_500)
        if message.task_id == "wait":
            raise WaitForSlot("full", delay_seconds=30)
        if message.task_id == "broken":
            raise RuntimeError("boom")
        return "completed"

    lane = FakeLane([retry, wait, broken, fine, malformed])
    instance = Instance(
        Runs(clock, outcome=outcome), lane, policy(slots=8, retry_base_seconds=1, retry_max_seconds=2), clock, pool
    )
    assert instance.serve([]) == []
    # Done with: completed, malformed (dropped), waiting (sent again as a new message in its group).
    assert sorted(lane.deleted) == sorted([fine.receipt_handle, "hbad", wait.receipt_handle])
    assert lane.sent_again == [(wait.body, 30)]
    # Retried: held back at least until its lease lapses (5 s + 1), not deleted; an unexpected error: left alone.
    assert lane.held == {retry.receipt_handle: 6}
    assert broken.receipt_handle not in lane.deleted and broken.receipt_handle not in lane.held
    assert instance.counts["MalformedMessages"] == 1 and instance.counts["TasksRetried"] == 1


def test_the_event_s_failures_are_reported_and_its_successes_left_to_the_event_source(pool):
    clock = Clock()
    retry, fine = delivery("retry"), delivery("fine")

    def outcome(message):
        if message.task_id == "retry":
            raise RetryLater("503")
        return "completed"

    lane = FakeLane([])
    failed = Instance(Runs(clock, outcome=outcome), lane, policy(), clock, pool).serve([retry, fine])
    assert failed == [retry.message_id] and lane.deleted == []
    assert 1 <= lane.held[retry.receipt_handle] <= 2


class Killed(BaseException):
    pass


def test_a_thread_that_dies_takes_the_invocation_with_it_and_deletes_nothing_more(pool):
    clock = Clock()
    lane = FakeLane([delivery("dies"), delivery()])

    def outcome(message):
        if message.task_id == "dies":
            raise Killed()
        return "completed"

    with pytest.raises(Killed):
        Instance(Runs(clock, seconds=0.05, outcome=outcome), lane, policy(), clock, pool).serve([delivery()])
