"""A worker instance's starts reach the lanes' counters in a write a second or so, each in its own bucket."""

from __future__ import annotations

from asyncinfer.store.schema import LANE_BUCKET_MS
from asyncinfer.tasks.lane_starts import StartCounts


class Counters:
    def __init__(self, failing: bool = False) -> None:
        self.writes: list[tuple[str, int, int]] = []
        self.failing = failing

    def record_start(self, lane: str, at_ms: int, count: int = 1) -> None:
        if self.failing:
            raise ConnectionError("the table is unreachable")
        self.writes.append((lane, at_ms, count))

    def totals(self) -> dict[tuple[str, int], int]:
        totals: dict[tuple[str, int], int] = {}
        for lane, at, count in self.writes:
            totals[(lane, at)] = totals.get((lane, at), 0) + count
        return totals


T = 1_700_000_000_000  # a bucket's first ms


def test_a_burst_of_starts_is_written_once_its_first_is_and_the_rest_at_the_flush():
    counts, store = StartCounts(), Counters()
    for i in range(10):
        counts.add(store, "default", T + i)
    assert store.writes == [("default", T, 1)]  # the lane shows activity at once
    counts.add(store, "flex", T + 20)
    counts.flush()
    assert store.totals() == {("default", T): 10, ("flex", T): 1}
    assert len(store.writes) == 3


def test_a_start_a_second_after_the_last_write_writes_what_was_held_each_in_its_own_bucket():
    counts, store = StartCounts(), Counters()
    counts.add(store, "default", T)
    counts.add(store, "default", T + 400)
    counts.add(store, "default", T + LANE_BUCKET_MS + 100)  # a second after the first write
    assert store.totals() == {("default", T): 2, ("default", T + LANE_BUCKET_MS): 1}
    counts.flush()
    assert len(store.writes) == 3


def test_another_store_gets_its_own_counts_and_a_failed_write_is_dropped():
    counts, first, second = StartCounts(), Counters(), Counters(failing=True)
    counts.add(first, "default", T)
    counts.add(first, "default", T + 1)
    counts.add(second, "default", T + 2)
    assert first.totals() == {("default", T): 2}  # held for the first store, written to it
    counts.flush()  # the second's write fails: logged, not raised
    assert second.writes == []
    counts.flush()
    assert second.writes == []
