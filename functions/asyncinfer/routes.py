"""Every function and every API route, in one place: the dev server and the CDK stack both read it. The routes
are the ones the surfaces' routers declare (asyncinfer.surfaces.contract.route), each served by the function
that serves its surface (asyncinfer.surfaces.serving.SURFACES)."""

from __future__ import annotations

from typing import Any

from asyncinfer.surfaces.serving import SURFACES, Route, routes

__all__ = ["HANDLERS", "STREAM_APP", "SURFACES", "Route", "routes"]  # and ROUTES, made on first use

# Each API function's entry point is handlers/<function>.py: a function in SURFACES needs no line here.
HANDLERS: dict[str, str] = {
    "authorizer": "asyncinfer.handlers.authorizer.lambda_handler",
    **{function: f"asyncinfer.handlers.{function}.lambda_handler" for function in SURFACES if function != "stream"},
    "worker": "asyncinfer.handlers.worker.lambda_handler",
    "dead_letter": "asyncinfer.handlers.dead_letter.lambda_handler",
    "sweeper": "asyncinfer.handlers.sweeper.lambda_handler",
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


def __getattr__(name: str) -> Any:
    """ROUTES is made on first use, so that a reader of HANDLERS alone loads no surface."""
    if name != "ROUTES":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    table = globals()["ROUTES"] = routes()
    return table
