"""The read side of a task's event log as Server-Sent Events: tail it until the task ends, resumable.

Each event's SSE id is its sequence number in the log, so a client that reconnects with
`Last-Event-ID: n` gets exactly the events after n. The worker writes its last batch before the
final transition, so once a read of the task shows it ended, one more read of the log is complete.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from asyncinfer.domain.errors import InvalidRequest, TaskNotFound
from asyncinfer.domain.limits import MAX_STREAM_SECONDS
from asyncinfer.domain.model import TERMINAL, Task
from asyncinfer.store.base import TaskStore

MAX_EVENT_ID = 10**10 - 1


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


class EventFrames:
    """The native spelling: `event: <type>` with the stored event as JSON, then `event: end` with the
    task as `render_end` shows it."""

    def __init__(self, render_end: Callable[[Task], dict[str, Any]]) -> None:
        self._render_end = render_end

    def event(self, seq: int, event: dict[str, Any]) -> bytes | None:
        return sse(json.dumps(event, separators=(",", ":"), ensure_ascii=False), event=event.get("type"), id=seq)

    def end(self, task: Task) -> bytes:
        return sse(json.dumps(self._render_end(task), separators=(",", ":")), event="end")


class EventTail:
    """Opened per request. `open` checks the task exists (raises TaskNotFound before any byte is sent);
    `stream` then yields SSE frames until the task ends or the time limit is reached."""

    def __init__(
        self,
        store: TaskStore,
        tenant: str,
        task_id: str,
        *,
        frames: Frames,
        limits: StreamLimits = StreamLimits(),
        sleep: Sleep = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._tenant = tenant
        self._task_id = task_id
        self._frames = frames
        self._limits = limits
        self._sleep = sleep
        self._clock = clock

    async def open(self) -> Task:
        task = await asyncio.to_thread(self._store.get, self._tenant, self._task_id)
        if task is None or not task.visible():
            raise TaskNotFound()
        return task

    async def stream(self, after_seq: int = 0) -> AsyncIterator[bytes]:
        started = last_sent = self._clock()
        scan_from = 0  # the first read may resume inside a stored batch; later ones start after it
        poll = self._limits.poll_seconds
        seen_status = None
        yield f"retry: {self._limits.retry_ms}\n\n".encode()
        while True:
            task = await asyncio.to_thread(self._store.get, self._tenant, self._task_id)
            if task is None or not task.visible():  # deleted (or expired) while streaming
                return
            events = await asyncio.to_thread(self._store.read_events, self._tenant, self._task_id, after_seq, scan_from)
            for event in events:
                after_seq = event["seq"]
                frame = self._frames.event(after_seq, event)
                if frame is not None:
                    yield frame
                    last_sent = self._clock()
            scan_from = after_seq + 1
            quiet = not events and task.status == seen_status
            poll = min(poll * 1.5, self._limits.max_poll_seconds) if quiet else self._limits.poll_seconds
            seen_status = task.status
            if task.status in TERMINAL:
                yield self._frames.end(task)
                return
            now = self._clock()
            if now - started >= self._limits.max_seconds:
                return
            if now - last_sent >= self._limits.keepalive_seconds:
                yield b": keep-alive\n\n"
                last_sent = now
            await self._sleep(poll)
