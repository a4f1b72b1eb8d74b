"""The Responses function: OpenAI's Responses API (asyncinfer.surfaces.openai_responses).

`web` is an ASGI app run under Lambda Web Adapter in streaming mode, as the streaming function is: the SDK asks
for Server-Sent Events per request (`stream: true` in a create's body, `?stream=true` on a retrieve), and API
Gateway takes one integration per method. The app serves those event streams itself, from the task's event log;
every JSON answer (and the create of a streamed response) it hands, as the REST proxy event API Gateway would have
sent, to `app`, the resolver with the surface's router, as every API function's is. `lambda_handler` is that
resolver's entry point: the dev stack runs the JSON answers through it, one API invocation at a time."""

from __future__ import annotations

from asyncinfer.handlers.cold import cold_start

with cold_start():  # the imports: the function's cold start
    import asyncio
    import base64
    import json
    import os
    import uuid
    from collections.abc import AsyncIterator, Callable
    from types import SimpleNamespace
    from typing import Any

    from asyncinfer.config import ApiSettings, StreamSettings
    from asyncinfer.domain.errors import DomainError, TaskNotFound
    from asyncinfer.domain.model import CHAT_KINDS, Task
    from asyncinfer.handlers import stream
    from asyncinfer.handlers.shared import entry_point, service
    from asyncinfer.observability import logger, metrics
    from asyncinfer.surfaces import contract, openai_responses
    from asyncinfer.surfaces.asgi import App, JSONResponse, Request, Response, Route, path_pattern
    from asyncinfer.surfaces.edge import build_app
    from asyncinfer.surfaces.responses_events import ResponseFrames
    from asyncinfer.surfaces.statuses import ROUTE_NOT_FOUND, UNAUTHORIZED, status_for
    from asyncinfer.tasks.streaming import EventTail


class ResponsesSettings(ApiSettings, StreamSettings):
    """A task surface's settings, and the streaming function's (its event streams are tailed the same way)."""


SETTINGS = ResponsesSettings  # the infra tests check each deployed environment against it
# Set by the dev server (asyncinfer's local stack) in the ASGI scope: how it invokes this function's resolver.
LOCAL_INVOKE = "asyncinfer.invoke"

app = build_app(openai_responses.router, provide={contract.task_service: service})
lambda_handler = entry_point(app)
_PATHS = [(path_pattern(d.path), d.path) for d in contract.declared(openai_responses.router)]


def proxy_event(request: Request, body: bytes) -> dict[str, Any]:
    """The REST proxy event API Gateway would have sent for `request` (Lambda Web Adapter passes its request
    context, with the authorizer's, in the x-amzn-request-context header)."""
    resource, params = request.path, None
    for pattern, path in _PATHS:
        if found := pattern.match(request.path):
            resource, params = path, found.groupdict() or None
            break
    try:
        context = json.loads(request.headers.get(stream.REQUEST_CONTEXT_HEADER, "{}"))
    except ValueError:
        context = {}
    headers = {k: v for k, v in request.headers.items() if k != stream.REQUEST_CONTEXT_HEADER}
    query = dict(request.query_params) or None
    try:
        text, encoded = body.decode(), False
    except UnicodeDecodeError:
        text, encoded = base64.b64encode(body).decode(), True
    return {
        "resource": resource,
        "path": request.path,
        "httpMethod": request.method,
        "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": query,
        "multiValueQueryStringParameters": {k: request.query_params.getlist(k) for k in query} if query else None,
        "pathParameters": params,
        "stageVariables": None,
        "requestContext": context if isinstance(context, dict) else {},
        "body": text if body else None,
        "isBase64Encoded": encoded,
    }


@logger.inject_lambda_context(correlation_id_path="pathParameters.id")
@metrics.log_metrics
def _resolved_here(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)


def _resolve_here(event: dict[str, Any]) -> dict[str, Any]:
    """On Lambda: the resolver, with the log context and the metrics flush every API function's entry point has
    (not its tracer: the adapter's app process outlives the invocation whose trace the runtime would name)."""
    context = SimpleNamespace(
        function_name=os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "api_responses"),
        memory_limit_in_mb=int(os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512")),
        invoked_function_arn="",
        aws_request_id=str(uuid.uuid4()),
    )
    return _resolved_here(event, context)


async def _resolved(request: Request, body: bytes) -> tuple[int, dict[str, str], bytes]:
    invoke: Callable[[dict], dict] = request.scope.get(LOCAL_INVOKE) or _resolve_here
    result = await asyncio.to_thread(invoke, proxy_event(request, body))
    raw = result.get("body") or ""
    content = base64.b64decode(raw) if result.get("isBase64Encoded") else raw.encode()
    headers = dict(result.get("headers") or {})
    for name, values in (result.get("multiValueHeaders") or {}).items():
        headers[name] = ", ".join(values)
    headers.pop("Content-Length", None)
    return int(result.get("statusCode", 200)), headers, content


def _result_of(task: Task) -> dict[str, Any] | None:
    # Called once, at the stream's end: inline on the task unless large (then one read of S3).
    return service().view(task).result


class _ResponseTail:
    """The task's events as Responses events, `response.created` first (what stream.capped_stream tails)."""

    def __init__(self, tail: EventTail, frames: ResponseFrames) -> None:
        self._tail = tail
        self._frames = frames

    async def stream(self, after: int) -> AsyncIterator[bytes]:
        first = self._frames.start()
        if first:
            yield first
        async for frame in self._tail.stream(after):
            # Not the tail's `retry:` frame: OpenAI's SDK reads it as an event without data, and fails on it.
            if not frame.startswith(b"retry:"):
                yield frame


async def _events(tenant: str, task_id: str, after: int) -> Response:
    opened = EventTail(stream.store(), tenant, task_id, frames=stream.EventFrames(dict))
    try:
        task = await opened.open()
    except TaskNotFound:
        task = None
    if task is None or task.kind not in CHAT_KINDS:
        raise openai_responses.not_found()
    stored = await asyncio.to_thread(openai_responses.request_of, service(), task)
    frames = ResponseFrames(task, stored, _result_of, after)
    tail = EventTail(stream.store(), tenant, task_id, frames=frames, limits=stream.limits())
    return await stream.capped_stream(tenant, _ResponseTail(tail, frames), 0)


async def create(request: Request) -> Response:
    """POST /v1/responses: the resolver creates it; asked to stream, its events follow from its creation."""
    body = await request.body()
    status, headers, content = await _resolved(request, body)
    try:
        asked = json.loads(body).get("stream")
    except (ValueError, AttributeError):
        asked = None
    if status != 200 or not openai_responses.stream_asked(asked):
        return Response(content, status_code=status, headers=headers)
    tenant = stream.tenant_of(request)
    assert tenant is not None  # the resolver answered 200: the request was authorized
    task_id = openai_responses.task_id_of(json.loads(content)["id"])
    return await _events(tenant, task_id, -1)


async def retrieve(request: Request) -> Response:
    """GET /v1/responses/{id}: the Response object, or with ?stream=true its events (after `starting_after`)."""
    if not openai_responses.stream_asked(request.query_params.get("stream")):
        return await passed_on(request)
    tenant = stream.tenant_of(request)
    if tenant is None:
        return JSONResponse(UNAUTHORIZED, status_code=401)
    after = openai_responses.starting_after(request.query_params.get("starting_after"))
    try:
        task_id = openai_responses.task_id_of(request.path_params["id"])
    except DomainError:
        raise openai_responses.not_found() from None
    return await _events(tenant, task_id, after)


async def passed_on(request: Request) -> Response:
    status, headers, content = await _resolved(request, await request.body())
    return Response(content, status_code=status, headers=headers)


async def _domain_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, DomainError)
    return JSONResponse({"error": {"code": exc.code, "message": exc.message}}, status_code=status_for(exc))


async def _not_found(request: Request) -> Response:
    return JSONResponse(ROUTE_NOT_FOUND, status_code=404)


web = App(
    [
        Route("/v1/responses", create, methods=["POST"]),
        Route("/v1/responses/{id}", retrieve, methods=["GET"]),
        Route("/v1/responses/{id}", passed_on, methods=["DELETE"]),
        Route("/v1/responses/{id}/cancel", passed_on, methods=["POST"]),
        Route("/v1/responses/{id}/input_items", passed_on, methods=["GET"]),
        Route("/healthz", stream.healthz, methods=["GET"]),
    ],
    errors={DomainError: _domain_error},
    not_found=_not_found,
)
