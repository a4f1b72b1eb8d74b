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
    "api_batches": ("openai_batches", "openai_files"),
    "api_webhooks": ("webhooks",),
    # The SSE routes' declarations: the streaming function serves them (an ASGI app, not a resolver).
    "stream": ("streams",),
    "api_docs": ("docs",),
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
        Route(d.method, d.path, function, d.authorized, d.streaming)
        for function, names in surfaces.items()
        for name in names
        for d in declared(surface(name).router)
    )
