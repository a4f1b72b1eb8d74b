"""The two SSE routes, for the document only: the streaming function serves them (an ASGI app under Lambda
Web Adapter, asyncinfer.handlers.stream), never a resolver with this router."""

from __future__ import annotations

from aws_lambda_powertools.event_handler.api_gateway import Router

from asyncinfer.api.contract import Id, LastEventId, route

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
    description="`id:` is the event's sequence number; `event: end` carries the task when it has ended.",
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
)
def message_stream(id: Id, last_event_id: LastEventId = None) -> dict:
    return _not_here()
