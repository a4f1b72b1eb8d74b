"""The two SSE routes, for the document only: the streaming function serves them (an ASGI app under Lambda
Web Adapter, asyncinfer.handlers.stream), never a resolver with this router."""

from __future__ import annotations

from asyncinfer.surfaces.contract import Id, LastEventId, route
from asyncinfer.surfaces.routing import Router

router = Router()


def _not_here() -> dict:
    raise NotImplementedError("served by the streaming function")


@route(
    router,
    "GET",
    "/v1/async/{id}/events",
    "Stream a task's events (Server-Sent Events, resumable)",
    "Async API",
    streams=True,
    description="`id:` is the event's sequence number; `event: end` carries the task when it has ended. "
    "`event: status` frames, made by the stream and never stored, have no `id:` (resuming is unchanged): the "
    "task's status, class and, when they change, while it waits its `queue_position` and `estimated_start_at`, "
    "while it runs its `progress` and `estimated_finish_at`, as its read spells them.",
)
def task_events(id: Id, last_event_id: LastEventId = None) -> dict:
    return _not_here()


@route(
    router,
    "GET",
    "/v1/messages/async/{id}/stream",
    "Stream the message as chat-completion chunks (Server-Sent Events, resumable)",
    "PrivateGPT",
    streams=True,
    description="Chunks as OpenAI streams them, so no status frames (OpenAI's SDK would read one as a chunk); "
    "GET /v1/messages/async/{id}/status says where the message stands.",
)
def message_stream(id: Id, last_event_id: LastEventId = None) -> dict:
    return _not_here()
