"""The streaming function: a small ASGI app serving the SSE routes.

On AWS it runs under Lambda Web Adapter, which turns API Gateway's proxy event into an HTTP request
and puts the request context (with the authorizer's tenant) in the `x-amzn-request-context` header.
The dev server mounts the same app and sets the same header after running the same authorizer.
"""

from __future__ import annotations

from asyncinfer.handlers.cold import cold_start

with cold_start():  # the imports: the function's cold start
    import asyncio
    import json
    import time
    import uuid
    from collections.abc import AsyncIterator
    from functools import partial
    from typing import TYPE_CHECKING, Protocol

    from asyncinfer import wiring
    from asyncinfer.config import StreamSettings
    from asyncinfer.domain.errors import DomainError, TaskNotFound
    from asyncinfer.domain.model import CHAT_KINDS
    from asyncinfer.surfaces import async_ids, privategpt_ids
    from asyncinfer.surfaces.asgi import App, JSONResponse, Request, Response, Route, StreamingResponse
    from asyncinfer.surfaces.privategpt_chunks import ChunkFrames
    from asyncinfer.surfaces.statuses import ROUTE_NOT_FOUND, UNAUTHORIZED, status_for
    from asyncinfer.tasks.reads import status_event
    from asyncinfer.tasks.standing import Standings, lane_standing
    from asyncinfer.tasks.streaming import EventFrames, EventTail, StreamLimits, parse_last_event_id

if TYPE_CHECKING:
    from asyncinfer.store.dynamodb import DynamoTaskStore

SETTINGS = StreamSettings  # the infra tests check each deployed environment against it
REQUEST_CONTEXT_HEADER = "x-amzn-request-context"
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
STREAM_RETRY_SECONDS = 5
# The store's pool of holds counting a tenant's open streams.
STREAMS = "streams"


@wiring.cached
def settings() -> StreamSettings:
    return SETTINGS()


@wiring.cached
def store() -> DynamoTaskStore:
    return wiring.task_store(settings().table_name)


@wiring.cached
def standings() -> Standings:
    """A waiting task's place in line and estimated start, as every read shows them (its status frames)."""
    return lane_standing(store())


def limits() -> StreamLimits:
    s = settings()
    return StreamLimits(
        poll_seconds=s.poll_seconds,
        max_poll_seconds=s.max_poll_seconds,
        keepalive_seconds=s.keepalive_seconds,
        max_seconds=s.max_stream_seconds,
    )


def tenant_of(request: Request) -> str | None:
    try:
        tenant = json.loads(request.headers.get(REQUEST_CONTEXT_HEADER, ""))["authorizer"]["tenant"]
    except (ValueError, KeyError, TypeError):
        return None
    return tenant if isinstance(tenant, str) and tenant else None


def _error(status: int, body: dict) -> JSONResponse:
    return JSONResponse(body, status_code=status)


def _after(request: Request) -> int:
    return parse_last_event_id(request.headers.get("last-event-id") or request.query_params.get("last_event_id"))


class Tail(Protocol):
    """What a stream sends: a task's frames after an event (an EventTail, or a surface's wrapping of one)."""

    def stream(self, after: int, /) -> AsyncIterator[bytes]: ...


async def capped_stream(tenant: str, tail: Tail, after: int) -> Response:
    """The tail as SSE, under the tenant's cap on open streams (each one holds a function instance)."""
    cap = settings().max_streams_per_tenant
    if not cap:
        return StreamingResponse(tail.stream(after), media_type="text/event-stream", headers=SSE_HEADERS)
    stream_id = uuid.uuid4().hex
    now = int(time.time())
    until = now + int(settings().max_stream_seconds) + 60
    if not await asyncio.to_thread(store().hold_instance, STREAMS, tenant, stream_id, until=until, limit=cap, now=now):
        message = f"This tenant already has {cap} streams open; close one, or retry later"
        return JSONResponse(
            {"error": {"code": "too_many_streams", "message": message}},
            status_code=429,
            headers={"Retry-After": str(STREAM_RETRY_SECONDS)},
        )
    return StreamingResponse(
        _released(tail.stream(after), tenant, stream_id), media_type="text/event-stream", headers=SSE_HEADERS
    )


async def _released(frames: AsyncIterator[bytes], tenant: str, stream_id: str) -> AsyncIterator[bytes]:
    try:
        async for frame in frames:
            yield frame
    finally:
        # Blocking, and brief: it must run even while the stream is being cancelled (the client left).
        store().free_instance(STREAMS, tenant, stream_id)


async def async_events(request: Request) -> Response:
    """GET /v1/async/{id}/events: the event log itself, with an `end` event."""
    tenant = tenant_of(request)
    if tenant is None:
        return _error(401, UNAUTHORIZED)
    task_id = async_ids.internal_id(request.path_params["task_id"])
    after = _after(request)
    # Status frames (no id) in the surface's spelling: status, place in line, estimated start and finish.
    frames = EventFrames(async_ids.summary, partial(status_event, stamp=async_ids.iso))
    tail = EventTail(store(), tenant, task_id, frames=frames, limits=limits(), standing=standings())
    task = await tail.open()
    if task.kind not in CHAT_KINDS:  # the Async API shows chat tasks only, as GET /v1/async/{id} does
        raise TaskNotFound()
    return await capped_stream(tenant, tail, after)


def _message_task(tenant: str, name: str) -> str | None:
    """The task created under a client-chosen message_id (PrivateGPT's), as asyncinfer.tasks.service reads it."""
    from asyncinfer.domain.submission import MESSAGE_ID  # the submit's module: not imported for the other stream

    record = store().get_name(tenant, MESSAGE_ID, name)
    return record.task_id if record is not None else None


async def privategpt_stream(request: Request) -> Response:
    """GET /v1/messages/async/{message_id}/stream: chat-completion chunks, then [DONE]."""
    tenant = tenant_of(request)
    if tenant is None:
        return _error(401, UNAUTHORIZED)
    public = request.path_params["message_id"]
    task_id = await asyncio.to_thread(privategpt_ids.task_id_of, public, partial(_message_task, tenant))
    after = _after(request)
    task = await EventTail(store(), tenant, task_id, frames=EventFrames(async_ids.summary), limits=limits()).open()
    if task.kind not in CHAT_KINDS:
        raise privategpt_ids.not_found()
    # No status frames here (ChunkFrames has no `status`, so nor is the standing read): this stream imitates
    # OpenAI's chat.completion.chunk stream, and OpenAI's SDK reads every frame but its own `thread.*` events
    # as a chunk, so a status frame would reach its clients as a chunk without `choices`. PrivateGPT's
    # /status read says where the message stands.
    tail = EventTail(store(), tenant, task_id, frames=ChunkFrames(task, after), limits=limits())
    return await capped_stream(tenant, tail, after)


async def healthz(request: Request) -> Response:
    return JSONResponse({"ok": True})


async def _domain_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, DomainError)
    return _error(status_for(exc), {"error": {"code": exc.code, "message": exc.message}})


async def _not_found(request: Request) -> Response:
    return _error(404, ROUTE_NOT_FOUND)


app = App(
    [
        Route("/v1/async/{task_id}/events", async_events, methods=["GET"]),
        Route("/v1/messages/async/{message_id}/stream", privategpt_stream, methods=["GET"]),
        Route("/healthz", healthz, methods=["GET"]),
    ],
    errors={DomainError: _domain_error},
    not_found=_not_found,
)
