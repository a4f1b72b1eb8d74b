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
                self._task.tenant,
                self._task.id,
                self.seq + 1,
                self._pending,
                expires_at=self._task.expires_at,
            )
            self.seq += len(self._pending)
            self._pending = []
        self._last_flush = time.monotonic()


class ResumedLog:
    """The event log of a step that runs again after an interruption (a crash, a timed-out invocation):
    the events its first run already wrote are not written twice. While the new run says what the first
    one said (a deterministic model, a replayed tool), its events are swallowed until it goes past them;
    if it says something else, a `restart` event tells readers to drop the step's earlier output, and the
    new run is written whole after it."""

    def __init__(self, log: EventLog, written: list[dict[str, Any]], step: str) -> None:
        self._log = log
        self._step = step
        self._script = _script(written)
        self._said: list[dict[str, Any]] = []  # this run's events while they match the script
        self._matching = True

    @property
    def seq(self) -> int:
        return self._log.seq

    @property
    def meter(self) -> Meter | None:
        return self._log.meter

    def add(self, event: dict[str, Any]) -> None:
        if not self._matching:
            self._log.add(event)
            return
        self._said.append(dict(event))
        said = _script(self._said)
        if _is_prefix(said, self._script):
            return
        self._matching = False
        if _is_prefix(self._script, said):
            for item in _beyond(self._script, said):
                self._log.add(item)
            return
        self._log.add({"type": "restart", "step": self._step, "reason": "the step ran again and said otherwise"})
        for item in self._said:
            self._log.add(item)

    def due(self) -> bool:
        return self._log.due()

    def flush(self) -> None:
        self._log.flush()

    def flush_pending(self) -> None:
        self._log.flush_pending()


def _script(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Events as a reader sees them: consecutive deltas as one text, however they were batched."""
    out: list[dict[str, Any]] = []
    for event in events:
        event = {k: v for k, v in event.items() if k != "seq"}
        if event.get("type") == "delta" and out and out[-1].get("type") == "delta":
            out[-1] = {"type": "delta", "text": out[-1]["text"] + event.get("text", "")}
        else:
            out.append(event)
    return out


def _is_prefix(short: list[dict[str, Any]], long: list[dict[str, Any]]) -> bool:
    if len(short) > len(long):
        return False
    for i, item in enumerate(short):
        other = long[i]
        if item == other:
            continue
        last = i == len(short) - 1
        deltas = item.get("type") == "delta" == other.get("type")
        if not (last and deltas and other["text"].startswith(item["text"])):
            return False
    return True


def _beyond(written: list[dict[str, Any]], said: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What `said` adds after `written`, of which it is an extension."""
    if not written:
        return said
    last = len(written) - 1
    tail = said[last]
    extra: list[dict[str, Any]] = []
    if tail.get("type") == "delta" and tail != written[last]:
        extra.append({"type": "delta", "text": tail["text"][len(written[last]["text"]) :]})
    return extra + said[last + 1 :]
