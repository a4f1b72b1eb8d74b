"""A running task's event log, written in batches: each batch's sequence numbers are reserved on the task
by compare-and-set before it is written, so a worker that re-claims the task continues after them."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from asyncinfer.domain.model import Task, now_ms
from asyncinfer.store.base import ConditionFailed, TaskStore
from asyncinfer.tasks.metering import Meter


class ClaimLost(Exception):
    """Our claim is gone (cancelled or re-claimed): stop without writing anything more."""


class EventLog:
    """Buffers events and writes them in batches; each heartbeat doubles as the cancellation check."""

    def __init__(
        self,
        store: TaskStore,
        task: Task,
        remaining_ms: Callable[[], int],
        flush_seconds: float,
        claim: Callable[[dict[str, Any]], Any],
    ) -> None:
        self._store = store
        self._claim = claim  # the compare-and-set on our claim: ConditionFailed once it is gone
        self._flush_seconds = flush_seconds
        self._task = task
        self._remaining_ms = remaining_ms
        self._pending: list[dict[str, Any]] = []
        self.seq = task.event_seq
        self._last_flush = time.monotonic()
        # What the attempt produced, written with each flush (the task's `produced`), when it is metered.
        self.meter: Meter | None = None

    def add(self, event: dict[str, Any]) -> None:
        last = self._pending[-1] if self._pending else None
        if (
            last is not None
            and event.keys() == last.keys() == {"type", "text"}
            and event["type"] == "delta" == last["type"]
        ):
            # Deltas waiting for the same flush become one: a smaller write, fewer frames, same text.
            last["text"] += event["text"]
            return
        self._pending.append(dict(event))

    def due(self) -> bool:
        return time.monotonic() - self._last_flush >= self._flush_seconds

    def flush_pending(self) -> None:
        """Before a final transition, which checks our claim itself: a write only if events are left (or
        what was produced changed)."""
        if self._pending or (self.meter is not None and self.meter.changed):
            self.flush()

    def flush(self) -> None:
        """Reserve the sequence numbers by compare-and-set first, so a worker that re-claims the task
        later continues after them, and nothing is written once our claim is gone. The next flush is due
        flush_seconds after this one ends: a slow store gets fewer, larger writes, not one per delta."""
        now = now_ms()
        changes: dict[str, Any] = {
            "lease_expires_at": now + self._remaining_ms(),
            "updated_at": now,
            "event_seq": self.seq + len(self._pending),
        }
        produced = self.meter.take() if self.meter is not None else None
        if produced is not None:
            changes["produced"] = produced
        try:
            self._claim(changes)
        except ConditionFailed as lost:
            raise ClaimLost() from lost
        if self._pending:
            self._store.append_events(
                self._task.tenant, self._task.id, self.seq + 1, self._pending, expires_at=self._task.expires_at
            )
            self.seq += len(self._pending)
            self._pending = []
        self._last_flush = time.monotonic()
