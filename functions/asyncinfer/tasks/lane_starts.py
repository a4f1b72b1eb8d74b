"""The lanes' start counters, written once a second or so per instance rather than once per start: starts are
added up in the instance, by lane and bucket, and written when a start comes in after the last write's second
or when the instance flushes them (`flush_starts`, at the end of a worker invocation). A count only estimates
other tasks' start times (asyncinfer.tasks.standing), so one that reaches the table a moment late, or never
when its instance dies first, costs an estimate a little accuracy; every start is still counted in its own
bucket."""

from __future__ import annotations

import logging
import threading
from collections import Counter

from asyncinfer.store.base import TaskStore
from asyncinfer.store.schema import LANE_BUCKET_MS

log = logging.getLogger(__name__)


class StartCounts:
    def __init__(self, every_ms: int = LANE_BUCKET_MS) -> None:
        self.every_ms = every_ms
        self._lock = threading.Lock()
        self._pending: Counter[tuple[str, int]] = Counter()
        self._store: TaskStore | None = None
        self._written_at = 0

    def add(self, store: TaskStore, lane: str, at_ms: int) -> None:
        """One start in `lane` at `at_ms`; the first after a quiet `every_ms` is written at once, with any held."""
        if store is not self._store:
            self.flush()  # a store of its own (tests): what the earlier one counted goes to the earlier one
        with self._lock:
            self._store = store
            self._pending[(lane, at_ms - at_ms % LANE_BUCKET_MS)] += 1
            due = at_ms - self._written_at >= self.every_ms
        if due:
            self.flush(at_ms)

    def flush(self, at_ms: int | None = None) -> None:
        """Write what is held: one update per lane and bucket. Best effort: a failed write is logged and dropped."""
        with self._lock:
            pending, self._pending = self._pending, Counter()
            store = self._store
            if at_ms is not None:
                self._written_at = at_ms
        if store is None:
            return
        for (lane, bucket), count in sorted(pending.items()):
            try:
                store.record_start(lane, bucket, count)
            except Exception:
                log.warning("could not count %d starts in lane %s", count, lane, exc_info=True)


STARTS = StartCounts()


def count_start(store: TaskStore, lane: str, at_ms: int) -> None:
    """A task's first start, counted in its lane (asyncinfer.tasks.worker)."""
    STARTS.add(store, lane, at_ms)


def flush_starts() -> None:
    """Write the starts this instance holds: at the end of each worker invocation."""
    STARTS.flush()
