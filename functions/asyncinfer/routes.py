"""Every function and every API route, in one place: the dev server and the CDK stack both read it. The routes
are the ones the surfaces' routers declare (asyncinfer.surfaces.contract.route), each served by the function
that serves its surface (SURFACES)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import import_module
from typing import Any

HANDLERS: dict[str, str] = {
    "authorizer": "asyncinfer.handlers.authorizer.lambda_handler",
    "api_async": "asyncinfer.handlers.api_async.lambda_handler",
    "api_perplexity": "asyncinfer.handlers.api_perplexity.lambda_handler",
    "api_privategpt": "asyncinfer.handlers.api_privategpt.lambda_handler",
    "api_netmind": "asyncinfer.handlers.api_netmind.lambda_handler",
    "api_docs": "asyncinfer.handlers.api_docs.lambda_handler",
    "worker": "asyncinfer.handlers.worker.lambda_handler",
    "dead_letter": "asyncinfer.handlers.dead_letter.lambda_handler",
    "sweeper": "asyncinfer.handlers.sweeper.lambda_handler",
    "api_batches": "asyncinfer.handlers.api_batches.lambda_handler",
    "api_webhooks": "asyncinfer.handlers.api_webhooks.lambda_handler",
    "batch": "asyncinfer.handlers.batch.lambda_handler",
    "notifier": "asyncinfer.handlers.notifier.lambda_handler",
    "webhook_sender": "asyncinfer.handlers.webhook_sender.lambda_handler",
    # The long-task runner: a durable function, started by the worker (never by an event source).
    "runner": "asyncinfer.handlers.runner.lambda_handler",
    # Daily: deletes the runner's old versions that no unfinished long task is pinned to.
    "pruner": "asyncinfer.handlers.pruner.lambda_handler",
    # Not a Python handler: Lambda Web Adapter runs this script, which serves STREAM_APP.
    "stream": "asyncinfer/handlers/stream.sh",
}
STREAM_APP = "asyncinfer.handlers.stream:app"


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


def __getattr__(name: str) -> Any:
    """ROUTES is made on first use, so that a reader of HANDLERS alone loads no surface."""
    if name != "ROUTES":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    table = globals()["ROUTES"] = routes()
    return table
