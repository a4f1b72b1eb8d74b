"""How each route describes itself in the OpenAPI document that Powertools generates from the routers:
its summary, tag and operation id, its answers (ours: 400/401/402/403/404/409/429 with the error body, never
Powertools' 422), and the parameters several routes share.

A route that takes a request body parses it itself (strict JSON: depth, NaN, lone surrogates, size) and
validates it with the same pydantic model it declares; Powertools' validation is off for it, so its
declared parameters document the operation and the route reads the event. Every other route has its
path, query and header parameters validated and injected by Powertools."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Header, Path, Query

from asyncinfer.api.shapes import ERROR, SSE, obj
from asyncinfer.domain.model import TaskStatus
from asyncinfer.tasks.dialects import elsewhere

_ERROR = {"description": "Error", "content": {"application/json": {"schema": ERROR}}}
LIMIT_SCHEMA = {"type": "integer", "minimum": 1, "maximum": 100, "default": 20}

# Parameters more than one route takes. Values arrive as the client sent them (strings); the surfaces'
# own readers (asyncinfer.domain.ids.page and parse_limit) judge them, as they always did.
Id = Annotated[str, Path()]
DeliveryId = Annotated[str, Path(json_schema_extra={"pattern": "^msg_"})]
Limit = Annotated[str | None, Query(json_schema_extra=LIMIT_SCHEMA)]
Cursor = Annotated[str | None, Query()]
NextToken = Annotated[str | None, Query()]
StatusFilter = Annotated[str | None, Query(json_schema_extra={"enum": [s.value for s in TaskStatus]})]
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        description="Same key and body: the first call's task, not a new one. Same key, other body: 409.",
        json_schema_extra={"minLength": 1, "maxLength": 255},
    ),
]
StartTimeout = Annotated[
    str | None,
    Header(
        alias="X-Fal-Request-Timeout",
        description="fal's time-to-start deadline, in seconds from the submit: not started by then, the task ends "
        "FAILED `start_timeout` and never runs (the body's `start_timeout` wins).",
    ),
]
CancelAfter = Annotated[
    str | None,
    Header(
        alias="Cancel-After",
        description="Replicate's deadline, from the submit (`30s`, `5m`, `1h30m`, or seconds): missed before the "
        "start, the task ends FAILED `start_timeout`; while running, it is stopped and ends `deadline_exceeded`.",
    ),
]
LastEventId = Annotated[
    str | None,
    Header(
        alias="Last-Event-ID",
        description="Resume after this event (its `id:`).",
        json_schema_extra={"pattern": "^[0-9]+$"},
    ),
]


def body(model: type) -> Any:
    """A request body parameter: documented with `model`, parsed and validated by the route itself."""
    return Annotated[model, Body()]


def present(**values: str | None) -> dict[str, str]:
    """The query parameters the client sent, as the lists' readers take them."""
    return {name: value for name, value in values.items() if value is not None}


def openai_list(data: list[dict[str, Any]], has_more: bool, **extra: Any) -> dict[str, Any]:
    """A page as OpenAI's lists have it: the next one starts `after` its `last_id`."""
    return {
        "object": "list",
        "data": data,
        "first_id": data[0]["id"] if data else None,
        "last_id": data[-1]["id"] if data else None,
        "has_more": has_more,
        **extra,
    }


def openai_list_shape(item: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return obj(
        object={"type": "string", "enum": ["list"]},
        data={"type": "array", "items": item},
        first_id={"type": ["string", "null"]},
        last_id={"type": ["string", "null"]},
        has_more={"type": "boolean"},
        **extra,
    )


def _operation_id(method: str, path: str) -> str:
    return method.lower() + re.sub(r"[{}]", "", path.replace("/", "_")).replace(".", "_")


# OpenAI's name for it (the SDK's create_and_poll honours it): how long a client should wait to poll again.
POLL_HEADER = "openai-poll-after-ms"


def read(body: dict[str, Any], poll_after_ms: int | None) -> Response:
    """A read of a task: with the poll hint while it has not ended."""
    headers = {} if poll_after_ms is None else {POLL_HEADER: str(poll_after_ms)}
    return Response(status_code=200, content_type=content_types.APPLICATION_JSON, body=body, headers=headers)


# The surface (tag) of each route, by method and path: a 404 there may say where an id of another's is read.
_TAG_OF: dict[tuple[str, str], str] = {}


def not_found_hint(method: str, path: str, public: str | None) -> str | None:
    """For a 404 of `method path` (path as routes.py writes it) on id `public`: where that id is read, when its
    form says it is another surface's (asyncinfer.tasks.dialects.elsewhere)."""
    tag = _TAG_OF.get((method.upper(), path))
    return elsewhere.hint(tag, public) if tag else None


def route(
    router: Router,
    method: str,
    path: str,
    summary: str,
    tag: str,
    *,
    ok: dict[str, Any] | None = None,
    description: str | None = None,
    takes_body: bool = False,
    streams: bool = False,
    html: bool = False,
    public: bool = False,
    poll_hint: bool = False,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """The router's decorator for `method path` (path as routes.py writes it), with its description."""
    if streams:
        answer: dict[str, Any] = {"description": "Server-Sent Events until the task ends", "content": SSE}
    elif html:
        answer = {"description": "HTML", "content": {"text/html": {"schema": {"type": "string"}}}}
    else:
        answer = {"description": "OK", "content": {"application/json": {"schema": ok or {"type": "object"}}}}
    if poll_hint:
        answer["headers"] = {
            POLL_HEADER: {
                "schema": {"type": "integer"},
                "description": "On a task not ended yet: milliseconds to wait before reading it again",
            }
        }
    responses: dict[int, Any] = {200: answer, 400: _ERROR, 404: _ERROR}
    if not public:
        responses[401] = _ERROR
    if method == "POST":
        responses[409] = _ERROR
    if takes_body:
        responses[402] = {
            **_ERROR,
            "description": "What it reserves would take the tenant's spent + reserved past a limit (budget_exceeded; "
            "the error names the period, spent, reserved and limit): GET /v1/usage",
        }
        responses[403] = {
            **_ERROR,
            "description": "A service class the tenant may not use (class_not_allowed, naming it)",
        }
    if takes_body or streams:
        responses[429] = {
            "description": "Over the tenant's stream cap"
            if streams
            else "Over the tenant's submit quota, in-flight cap or its class's waiting quota",
            "headers": {"Retry-After": {"schema": {"type": "integer"}, "description": "Seconds to wait"}},
            "content": {"application/json": {"schema": ERROR}},
        }
    _TAG_OF[(method, path)] = tag
    return router.route(
        re.sub(r"\{(\w+)\}", r"<\1>", path),
        method,
        summary=summary,
        description=description,
        tags=[tag],
        operation_id=_operation_id(method, path),
        responses=responses,
        enable_validation=False if takes_body else None,
    )
