"""How each route describes itself in the OpenAPI document that Powertools generates from the routers:
its summary, tag and operation id, its answers (ours: 400/401/402/403/404/409/429 with the error body, never
Powertools' 422), and the parameters several routes share.

Declared parameters are the ones the route gets. A route that takes a request body is not validated by the
resolver (asyncinfer.surfaces.routing): `route` reads the body with the strict JSON reader (size first: 413
before parsing; then depth, NaN, lone surrogates) and hands it to the route as parsed, for the service to
validate with the model it declares; its declared headers and query parameters are read from the request as
declared. Every other route has its path, query and header parameters validated and given by the resolver."""

from __future__ import annotations

import base64
import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, get_args, get_origin, get_type_hints

from pydantic import BaseModel

from asyncinfer.domain.client_json import parse_json_body
from asyncinfer.domain.ids import spells_a_task_id
from asyncinfer.domain.model import TaskStatus
from asyncinfer.domain.prefer import APPLIED_HEADER, MAX_WAIT_SECONDS, PREFER_HEADER
from asyncinfer.surfaces.answers import SSE, Later, made, shared
from asyncinfer.surfaces.routing import APPLICATION_JSON, Body, Depends, Header, Path, Query, Response, Router
from asyncinfer.tasks.reads import TaskRead
from asyncinfer.tasks.service import TaskService


def task_service() -> TaskService:
    """The task service routes depend on. Each function's entry point provides its own (one per function
    instance) through the resolver's dependency overrides; a function that does not fails loudly."""
    raise NotImplementedError("this function provides no task service")


Tasks = Annotated[TaskService, Depends(task_service)]

LIMIT_SCHEMA = {"type": "integer", "minimum": 1, "maximum": 100, "default": 20}

# Parameters more than one route takes. Values arrive as the client sent them (strings); the surfaces'
# own readers (asyncinfer.domain.ids.page and parse_limit) judge them, as they always did.
Id = Annotated[str, Path()]
DeliveryId = Annotated[str, Path(json_schema_extra={"pattern": "^msg_"})]
Limit = Annotated[str | None, Query(json_schema_extra=LIMIT_SCHEMA)]
Cursor = Annotated[str | None, Query()]
NextToken = Annotated[str | None, Query()]
StatusFilter = Annotated[str | None, Query(json_schema_extra={"enum": [s.value for s in TaskStatus]})]
# Header names as clients write them (Powertools' document lowercases them; it is made to spell them so again).
HEADER_NAMES: dict[str, str] = {}


def header(name: str, description: str, **schema: Any) -> Any:
    """An optional header parameter named `name`, as clients spell it."""
    HEADER_NAMES[name.lower()] = name
    return Annotated[str | None, Header(alias=name, description=description, json_schema_extra=schema or None)]


IdempotencyKey = header(
    "Idempotency-Key",
    "Same key and body: the first call's task, not a new one. Same key, other body: 409.",
    minLength=1,
    maxLength=255,
)
StartTimeout = header(
    "X-Fal-Request-Timeout",
    "fal's time-to-start deadline, in seconds from the submit: not started by then, the task ends "
    "FAILED `start_timeout` and never runs (the body's `start_timeout` wins).",
)
CancelAfter = header(
    "Cancel-After",
    "Replicate's deadline, from the submit (`30s`, `5m`, `1h30m`, or seconds): missed before the "
    "start, the task ends FAILED `start_timeout`; while running, it is stopped and ends `deadline_exceeded`.",
)
LastEventId = header("Last-Event-ID", "Resume after this event (its `id:`).", pattern="^[0-9]+$")
Prefer = header(
    PREFER_HEADER,
    f"RFC 7240. `wait=N`: the answer waits up to N seconds (at most {MAX_WAIT_SECONDS}) for the task to end, and "
    "is then the task's read (its result included); not ended by then, the usual submit answer, as it then stands. "
    f"`{APPLIED_HEADER}: wait=N` says the wait was honoured, and for how long at most.",
    examples=["wait=10"],
)


def body(model: type) -> Any:
    """A request body parameter, documented with `model`. The route gets the body as the strict JSON reader
    parsed it (a dict); the service validates it with `model`, its one validation."""
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


def _operation_id(method: str, path: str) -> str:
    return method.lower() + re.sub(r"[{}]", "", path.replace("/", "_")).replace(".", "_")


# OpenAI's name for it (the SDK's create_and_poll honours it): how long a client should wait to poll again.
POLL_HEADER = "openai-poll-after-ms"


def read_response(view: TaskRead, render: Callable[[TaskRead], dict[str, Any]]) -> Response:
    """A read of a task as a surface renders it: with the poll hint while it has not ended."""
    headers = {} if view.poll_after_ms is None else {POLL_HEADER: str(view.poll_after_ms)}
    return Response(status_code=200, content_type=APPLICATION_JSON, body=render(view), headers=headers)


@dataclass(frozen=True)
class Declared:
    """A route as its router declares it: the route table (asyncinfer.routes) and the document are made of them."""

    method: str
    path: str  # API Gateway's resource path, e.g. /v1/async/{id}
    tag: str
    authorized: bool = True
    streaming: bool = False  # served by the streaming function: API Gateway streams the answer
    example: dict[str, Any] | None = None  # a request body its validation accepts (Swagger UI's "Try it out")
    models: tuple[type, ...] = ()  # its request body's model, and the models its body refers to by name


_DECLARED: dict[Router, list[Declared]] = {}


def declared(router: Router) -> list[Declared]:
    """The routes `router` declares, in their order."""
    return _DECLARED.get(router, [])


# The surface (tag) of each route, by method and path: a 404 there may say where an id of another's is read.
_TAG_OF: dict[tuple[str, str], str] = {}

# Where an id that was not found here is read, when its form says it is another surface's: a NetMind generation
# id sent to /v1/async, an Async API task id sent to /v1/generation, a batch id sent to a task route. Judged by
# the id's form alone, never by a lookup, so the hint tells nothing about any task: the answer is the same 404
# with or without one. Chat ids in any chat surface's spelling are read on every chat surface
# (asyncinfer.domain.ids), so among chat surfaces only a PrivateGPT message_id a client chose gets a hint.
ASYNC_API, PERPLEXITY, PRIVATEGPT, NETMIND, BATCHES = "Async API", "Perplexity", "PrivateGPT", "NetMind", "Batches"
MESSAGE_BATCHES, RESPONSES = "Message Batches", "Responses"
FAMILY = {ASYNC_API: "chat", PERPLEXITY: "chat", PRIVATEGPT: "chat", NETMIND: "media", BATCHES: "batches"}
FAMILY.update({MESSAGE_BATCHES: "batches", RESPONSES: "chat"})
_UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
# An id's form, the surface that shows ids of that form, and how the hint names it and where it is read.
FORMS: tuple[tuple[re.Pattern[str], str, str, str], ...] = (
    (re.compile(r"^batch_"), BATCHES, "a batch id", "GET /v1/batches/{id}"),
    (re.compile(r"^msgbatch_"), MESSAGE_BATCHES, "a message batch id", "GET /v1/messages/batches/{id}"),
    (re.compile(rf"^task_{_UUID}$"), ASYNC_API, "an Async API task id", "GET /v1/async/{id}"),
    (re.compile(rf"^{_UUID}$"), PERPLEXITY, "a Perplexity request id", "GET /async/chat/completions/{id}"),
    (re.compile(r"^msg_"), PRIVATEGPT, "a PrivateGPT message id", "GET /v1/messages/async/{id}/status"),
    (re.compile(r"^resp_"), RESPONSES, "an OpenAI response id", "GET /v1/responses/{id}"),
    (re.compile(r"^[0-9a-f]{32}$"), NETMIND, "a NetMind generation id", "GET /v1/generation/{id}"),
)


def where_read(here: str, public: str | None) -> str | None:
    """`This looks like a NetMind generation id; read it at GET /v1/generation/{id}`, for an id of another
    surface's form that surface `here` could not have found; None otherwise."""
    if here not in FAMILY or not public:
        return None
    for form, owner, what, where in FORMS:
        if not form.match(public.lower()):
            continue
        if owner == here or (FAMILY[owner] == FAMILY[here] and spells_a_task_id(public)):
            return None  # its own, or another chat surface's spelling of a task id, which is read here too
        if owner == ASYNC_API and here == BATCHES:
            # Batch results and webhooks spell generations' ids this way too.
            where = f"{where} (a chat task) or GET /v1/generation/{{id}} (a generation)"
        return f"This looks like {what}; read it at {where}"
    return None


def not_found_hint(method: str, path: str, public: str | None) -> str | None:
    """For a 404 of `method path` (path as the route table writes it) on id `public`: where that id is read,
    when its form says it is another surface's."""
    tag = _TAG_OF.get((method.upper(), path))
    return where_read(tag, public) if tag else None


def route(
    router: Router,
    method: str,
    path: str,
    summary: str,
    tag: str,
    *,
    ok: type[BaseModel] | Later | None = None,
    description: str | None = None,
    takes_body: bool = False,
    streams: bool = False,
    html: bool = False,
    public: bool = False,
    poll_hint: bool = False,
    example: dict[str, Any] | None = None,
    models: tuple[type, ...] = (),
    waits: type[BaseModel] | Later | None = None,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """The router's decorator for `method path` (API Gateway's resource path), with its description and the model
    of its answer (`ok`); the route is declared for the route table and the document (`example`: the request body
    Swagger UI sends; `waits`: the model of the read a submit answers with once a `Prefer: wait` saw its task end)."""
    _TAG_OF[(method, path)] = tag

    def responses() -> dict[int, Any]:  # made when the document is: the models it names are made then too
        return _responses(
            method, ok, waits, takes_body=takes_body, streams=streams, html=html, public=public, poll_hint=poll_hint
        )

    declare = router.route(
        method,
        path,
        validated=not takes_body,
        summary=summary,
        description=description,
        tags=[tag],
        operation_id=_operation_id(method, path),
        responses=responses,
        enable_validation=False if takes_body else None,
    )

    def declared_route(func: Callable[..., Any]) -> Callable[..., Any]:
        hints = get_type_hints(getattr(func, "__wrapped__", func), include_extras=True)
        bodies = tuple(get_args(hint)[0] for hint in hints.values() if _param(hint, Body))
        entry = Declared(method, path, tag, not public, streams, example, bodies + models)
        _DECLARED.setdefault(router, []).append(entry)
        return declare(_with_its_request(router, func) if takes_body else func)

    return declared_route


def _responses(
    method: str,
    ok: Any,
    waits: Any,
    *,
    takes_body: bool,
    streams: bool,
    html: bool,
    public: bool,
    poll_hint: bool,
) -> dict[int, Any]:
    """A route's answers, as the document lists them."""
    error = {"description": "Error", "content": {"application/json": {"model": shared().Error}}}
    ok, waits = made(ok), made(waits)
    if streams:
        answer: dict[str, Any] = {"description": "Server-Sent Events until the task ends", "content": SSE}
    elif html:
        answer = {"description": "HTML", "content": {"text/html": {"schema": {"type": "string"}}}}
    else:
        content = {"model": ok if waits is None else ok | waits} if ok else {"schema": {"type": "object"}}
        answer = {"description": "OK", "content": {"application/json": content}}
    if waits is not None:
        answer["description"] = "The submitted task; with `Prefer: wait=N`, its read once it ended within the wait"
        answer["headers"] = {
            APPLIED_HEADER: {"schema": {"type": "string"}, "description": "`wait=N`, when the wait was honoured"}
        }
    if poll_hint:
        answer["headers"] = {
            **answer.get("headers", {}),
            POLL_HEADER: {
                "schema": {"type": "integer"},
                "description": "On a task not ended yet: milliseconds to wait before reading it again",
            },
        }
    responses: dict[int, Any] = {200: answer, 400: error, 404: error}
    if not public:
        responses[401] = error
    if method == "POST":
        responses[409] = error
    if takes_body:
        responses[402] = {
            **error,
            "description": "What it reserves would take the tenant's spent + reserved past a limit (budget_exceeded; "
            "the error names the period, spent, reserved and limit): GET /v1/usage",
        }
        responses[403] = {
            **error,
            "description": "A service class the tenant may not use (class_not_allowed, naming it)",
        }
    if takes_body or streams:
        responses[429] = {
            "description": "Over the tenant's stream cap"
            if streams
            else "Over the tenant's submit quota, in-flight cap or its class's waiting quota",
            "headers": {"Retry-After": {"schema": {"type": "integer"}, "description": "Seconds to wait"}},
            "content": {"application/json": {"model": shared().Error}},
        }
    return responses


def _param(hint: Any, kind: type) -> Any:
    """The parameter of `kind` (Body, Header, Query) that an annotation declares, if any."""
    if get_origin(hint) is not Annotated:
        return None
    return next((param for param in get_args(hint)[1:] if isinstance(param, kind)), None)


def request_limit(service: Any) -> int:
    """The largest request body a route's service takes: a task service's, or (batches) its task service's."""
    return getattr(service, "tasks", service).limits.max_request_bytes


def _with_its_request(router: Router, func: Callable[..., Any]) -> Callable[..., Any]:
    """`func` given its declared body, headers and query parameters from the request (the resolver gives a route
    it does not validate only its path parameters and dependencies). The body is read with the limit of the
    route's service (`svc`)."""
    if hasattr(func, "__wrapped__"):
        return func  # declared already (a route at two paths)
    hints = get_type_hints(func, include_extras=True)
    params = {name: param for name, hint in hints.items() if (param := _param(hint, Body | Header | Query))}

    @functools.wraps(func)
    def route_with_its_request(**given: Any) -> Any:
        event = router.current_event
        for name, param in params.items():
            if isinstance(param, Body):
                given[name] = parse_json_body(raw_body(router), request_limit(given["svc"]))
            elif isinstance(param, Header):
                given[name] = event.headers.get((param.alias or name).lower())
            else:
                given[name] = event.query_string_parameters.get(param.alias or name)
        return func(**given)

    return route_with_its_request


def raw_body(router: Router) -> bytes:
    """The request body as sent. Bytes, not text: a body that is not UTF-8 is the client's error (a 400
    from the JSON parser), not a decoding crash here."""
    event = router.current_event
    body = event.body or ""
    if event.is_base64_encoded:
        try:
            return base64.b64decode(body)
        except ValueError:
            return b""
    return body.encode("utf-8", "surrogateescape")
