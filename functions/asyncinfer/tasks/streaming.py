"""The read side of a task's event log as Server-Sent Events: tail it until the task ends, resumable.

Each event's SSE id is its sequence number in the log, so a client that reconnects with
`Last-Event-ID: n` gets exactly the events after n. The worker writes its last batch before the
final transition, so once a read of the task shows it ended, one more read of the log is complete.

Between the log's events a surface may send `status` frames, made by the stream and never stored: the
task's status and, while it waits, its place in line and estimated start; while it runs, its progress and
estimated finish. They carry no `id:` (an SSE client keeps the last id it saw), so resuming is unchanged.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import KW_ONLY, dataclass
from typing import Any, Protocol, runtime_checkable

from asyncinfer.domain.errors import InvalidRequest, TaskNotFound
from asyncinfer.domain.lanes import Standing
from asyncinfer.domain.limits import MAX_STREAM_SECONDS
from asyncinfer.domain.model import TERMINAL, Progress, Task, TaskStatus
from asyncinfer.store.base import TaskStore
from asyncinfer.tasks.standing import Standings

log = logging.getLogger(__name__)

MAX_EVENT_ID = 10**10 - 1
# A waiting task's estimated start is recomputed from its lane's recent rate each time, so it moves a little
# every time: a status frame is sent for it again once it has moved at least this much (or its place has).
START_SLACK_MS = 5_000


class InvalidLastEventId(InvalidRequest):
    code = "invalid_last_event_id"


@dataclass(frozen=True)
class StreamLimits:
    # The poll interval while events flow; it grows by half at each quiet poll up to max_poll_seconds, so a
    # stream waiting on a queued or slow task reads about once every 2 s instead of several times a second.
    poll_seconds: float = 0.3
    max_poll_seconds: float = 2.0
    keepalive_seconds: float = 15.0
    # Close before the function's timeout; the client resumes with Last-Event-ID.
    max_seconds: float = MAX_STREAM_SECONDS
    retry_ms: int = 1000
    # While the task waits, its place in line (two queries) is read at most this often for status frames.
    standing_seconds: float = 2.0


def sse(data: str, *, event: str | None = None, id: int | None = None) -> bytes:
    lines = []
    if id is not None:
        lines.append(f"id: {id}")
    if event is not None:
        lines.append(f"event: {event}")
    lines += [f"data: {line}" for line in data.split("\n")]
    return ("\n".join(lines) + "\n\n").encode()


def parse_last_event_id(value: str | None) -> int:
    """The sequence number to resume after; 0 (from the start) when the client sent none."""
    if value is None or value.strip() == "":
        return 0
    value = value.strip()
    if not value.isascii() or not value.isdigit() or int(value) > MAX_EVENT_ID:
        raise InvalidLastEventId("Last-Event-ID must be the id of an event this stream sent (a non-negative integer)")
    return int(value)


Sleep = Callable[[float], Awaitable[None]]


class Frames(Protocol):
    """How a surface spells the log: one frame per event (None to skip it), one at the end."""

    def event(self, seq: int, event: dict[str, Any]) -> bytes | None: ...

    def end(self, task: Task) -> bytes: ...


@runtime_checkable
class StatusFrames(Frames, Protocol):
    """A surface whose stream also tells where the task stands: `status` spells a status frame (None to send
    none), which must carry no `id:` (ids are the log's sequence numbers). Frames without it send none."""

    def status(self, task: Task, standing: Standing | None) -> bytes | None: ...


@dataclass
class EventFrames:
    """The native spelling: `event: <type>` with the stored event as JSON, then `event: end` with the
    task as `render_end` shows it; with `render_status`, `event: status` frames (no id) as it shows them."""

    render_end: Callable[[Task], dict[str, Any]]
    render_status: Callable[[Task, Standing | None], dict[str, Any]] | None = None

    def event(self, seq: int, event: dict[str, Any]) -> bytes | None:
        return sse(json.dumps(event, separators=(",", ":"), ensure_ascii=False), event=event.get("type"), id=seq)

    def status(self, task: Task, standing: Standing | None) -> bytes | None:
        if self.render_status is None:
            return None
        data = json.dumps(self.render_status(task, standing), separators=(",", ":"), ensure_ascii=False)
        return sse(data, event="status")

    def end(self, task: Task) -> bytes:
        return sse(json.dumps(self.render_end(task), separators=(",", ":")), event="end")


@dataclass(frozen=True)
class _Told:
    """What the last status frame said, to send one only when something changed."""

    status: TaskStatus
    queue_position: int | None
    estimated_start_at: int | None
    progress: Progress | None

    @classmethod
    def of(cls, task: Task, standing: Standing | None) -> _Told:
        if standing is None:
            return cls(task.status, None, None, task.progress)
        return cls(task.status, standing.queue_position, standing.estimated_start_at, task.progress)

    def differs(self, before: _Told | None) -> bool:
        if before is None:
            return True
        if (self.status, self.queue_position, self.progress) != (before.status, before.queue_position, before.progress):
            return True
        at, was = self.estimated_start_at, before.estimated_start_at
        if at is None or was is None:
            return (at is None) != (was is None)
        return abs(at - was) >= START_SLACK_MS


@dataclass
class EventTail:
    """Opened per request. `open` checks the task exists (raises TaskNotFound before any byte is sent);
    `stream` then yields SSE frames until the task ends or the time limit is reached."""

    store: TaskStore
    tenant: str
    task_id: str
    _: KW_ONLY
    frames: Frames
    limits: StreamLimits = StreamLimits()
    sleep: Sleep = asyncio.sleep
    clock: Callable[[], float] = time.monotonic
    standing: Standings | None = None

    async def open(self) -> Task:
        task = await asyncio.to_thread(self.store.get, self.tenant, self.task_id)
        if task is None or not task.visible():
            raise TaskNotFound()
        return task

    async def stream(self, after_seq: int = 0) -> AsyncIterator[bytes]:
        started = last_sent = self.clock()
        scan_from = 0  # the first read may resume inside a stored batch; later ones start after it
        poll = self.limits.poll_seconds
        seen_status = None
        told: _Told | None = None  # what the last status frame said
        standing: Standing | None = None
        standing_read = -float("inf")  # when the task's standing was last read (self.clock)
        yield f"retry: {self.limits.retry_ms}\n\n".encode()
        while True:
            task = await asyncio.to_thread(self.store.get, self.tenant, self.task_id)
            if task is None or not task.visible():  # deleted (or expired) while streaming
                return
            if isinstance(self.frames, StatusFrames) and task.status not in TERMINAL:
                if task.status != TaskStatus.CREATED:
                    standing = None
                elif self.clock() - standing_read >= self.limits.standing_seconds:
                    standing, standing_read = await self._standing_of(task), self.clock()
                telling = _Told.of(task, standing)
                if telling.differs(told):
                    told = telling
                    frame = self.frames.status(task, standing)
                    if frame is not None:
                        yield frame
                        last_sent = self.clock()
            events = await asyncio.to_thread(self.store.read_events, self.tenant, self.task_id, after_seq, scan_from)
            for event in events:
                after_seq = event["seq"]
                frame = self.frames.event(after_seq, event)
                if frame is not None:
                    yield frame
                    last_sent = self.clock()
            scan_from = after_seq + 1
            quiet = not events and task.status == seen_status
            poll = min(poll * 1.5, self.limits.max_poll_seconds) if quiet else self.limits.poll_seconds
            seen_status = task.status
            if task.status in TERMINAL:
                yield self.frames.end(task)
                return
            now = self.clock()
            if now - started >= self.limits.max_seconds:
                return
            if now - last_sent >= self.limits.keepalive_seconds:
                yield b": keep-alive\n\n"
                last_sent = now
            await self.sleep(poll)

    async def _standing_of(self, task: Task) -> Standing | None:
        """The waiting task's standing; None when there is no way to read it. A failed read is logged and not
        tried again on this stream: the status frames go on without a place in line."""
        if self.standing is None:
            return None
        try:
            return await asyncio.to_thread(self.standing, task)
        except Exception:
            log.warning("could not read the standing of task %s; its stream goes on without it", task.id, exc_info=True)
            self.standing = None
            return None
