"""Which function serves which surface, and the route table their routers make: what the route table
(asyncinfer.routes), the OpenAPI document (asyncinfer.surfaces.docs) and the tests read. A surface is loaded
only when asked for, so a reader of the names alone loads none."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import import_module
from typing import Any

# The surfaces each function serves: modules of asyncinfer.surfaces (or, in tests, any module with a `router`).
SURFACES: dict[str, tuple[str, ...]] = {
    "api_async": ("async_api", "openai_models", "usage"),
    "api_perplexity": ("perplexity",),
    "api_privategpt": ("privategpt",),
    "api_netmind": ("netmind",),
    "api_batches": ("openai_batches", "batch_results", "batch_retry", "openai_files", "anthropic_batches"),
    "api_webhooks": ("webhooks",),
    # OpenAI's Responses API: an ASGI app too (asyncinfer.handlers.api_responses), every route streamed.
    "api_responses": ("openai_responses",),
    # The SSE routes' declarations: the streaming function serves them (an ASGI app, not a resolver).
    "stream": ("streams",),
    "api_docs": ("docs",),
}


# The functions that are ASGI apps under Lambda Web Adapter: API Gateway streams every answer of theirs.
WEB_APPS: dict[str, str] = {
    "stream": "asyncinfer.handlers.stream:app",
    "api_responses": "asyncinfer.handlers.api_responses:web",
}


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # API Gateway resource path, e.g. /v1/async/{id}
    function: str  # a key of HANDLERS
    authorized: bool = True
    # Served by the streaming function: API Gateway streams the response instead of buffering it.
    streaming: bool = False


def surface(name: str) -> Any:
    """A surface's module, by its name in SURFACES."""
    return import_module(name if "." in name else f"asyncinfer.surfaces.{name}")


def routes(surfaces: Mapping[str, Sequence[str]] = SURFACES) -> tuple[Route, ...]:
    """The route table: every route the surfaces' routers declare, with the function that serves it."""
    from asyncinfer.surfaces.contract import declared

    return tuple(
        Route(d.method, d.path, function, d.authorized, d.streaming or function in WEB_APPS)
        for function, names in surfaces.items()
        for name in names
        for d in declared(surface(name).router)
    )
