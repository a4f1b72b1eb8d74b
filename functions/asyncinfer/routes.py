"""Every function and every API route, in one place: the dev server and the CDK stack both read it."""

from __future__ import annotations

from dataclasses import dataclass

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


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # API Gateway resource path, e.g. /v1/async/{id}
    function: str  # a key of HANDLERS
    authorized: bool = True
    # Served by the streaming function: API Gateway streams the response instead of buffering it.
    streaming: bool = False


ROUTES: tuple[Route, ...] = (
    Route("POST", "/v1/async", "api_async"),
    Route("GET", "/v1/async", "api_async"),
    Route("GET", "/v1/async/{id}", "api_async"),
    Route("POST", "/v1/async/{id}/cancel", "api_async"),
    Route("DELETE", "/v1/async/{id}", "api_async"),
    Route("GET", "/v1/async/{id}/events", "stream", streaming=True),
    Route("GET", "/v1/models", "api_async"),
    Route("GET", "/v1/models/{id}", "api_async"),
    Route("GET", "/v1/usage", "api_async"),
    Route("POST", "/v1/chat/completions", "api_async"),
    Route("POST", "/async/chat/completions", "api_perplexity"),
    Route("GET", "/async/chat/completions", "api_perplexity"),
    Route("GET", "/async/chat/completions/{id}", "api_perplexity"),
    Route("POST", "/v1/async/sonar", "api_perplexity"),
    Route("GET", "/v1/async/sonar", "api_perplexity"),
    Route("GET", "/v1/async/sonar/{id}", "api_perplexity"),
    Route("POST", "/v1/messages/async", "api_privategpt"),
    Route("GET", "/v1/messages/async/{id}/status", "api_privategpt"),
    Route("POST", "/v1/messages/async/{id}/cancel", "api_privategpt"),
    Route("DELETE", "/v1/messages/async/{id}", "api_privategpt"),
    Route("GET", "/v1/messages/async/{id}/stream", "stream", streaming=True),
    Route("POST", "/v1/generation", "api_netmind"),
    Route("GET", "/v1/generation", "api_netmind"),
    Route("GET", "/v1/generation/{id}", "api_netmind"),
    Route("DELETE", "/v1/generation/{id}", "api_netmind"),
    Route("POST", "/v1/batches", "api_batches"),
    Route("GET", "/v1/batches", "api_batches"),
    Route("POST", "/v1/batches/uploads", "api_batches"),
    Route("GET", "/v1/batches/{id}", "api_batches"),
    Route("POST", "/v1/batches/{id}/cancel", "api_batches"),
    Route("POST", "/v1/files", "api_batches"),
    Route("GET", "/v1/files", "api_batches"),
    Route("GET", "/v1/files/{id}", "api_batches"),
    Route("DELETE", "/v1/files/{id}", "api_batches"),
    Route("GET", "/v1/files/{id}/content", "api_batches"),
    Route("GET", "/v1/webhooks/secret", "api_webhooks"),
    Route("POST", "/v1/webhooks/secret/rotate", "api_webhooks"),
    Route("GET", "/v1/webhooks/deliveries", "api_webhooks"),
    Route("GET", "/v1/webhooks/deliveries/{id}", "api_webhooks"),
    Route("POST", "/v1/webhooks/deliveries/{id}/redeliver", "api_webhooks"),
    Route("GET", "/openapi.json", "api_docs", authorized=False),
    Route("GET", "/docs", "api_docs", authorized=False),
)
