"""Our own small HTTP router for the JSON API functions. A surface's `Router` holds the routes it declares; a
function's `Resolver` answers an API Gateway REST proxy event with the route of its method and resource (API
Gateway's resource path, `/v1/async/{id}`), the route's parameters given from its annotations, and what it raises
answered by the function's exception handlers. Powertools' resolver did this, at the cost of its import on every
cold start; the OpenAPI document is still Powertools' own, made from these routes (asyncinfer.surfaces.docs).

A route's parameters: `Annotated[str, Path()]`, `Annotated[str | None, Query()]` or `Header()`, `Annotated[Model,
Body()]`, and dependencies, `Annotated[T, Depends(provider)]`, which a function replaces through its resolver's
`dependency_overrides`. Path, query and header values are checked as Powertools' validation checked them: a required
one absent, or one sent more than once, is a RequestValidationError. A route declared with `validated=False` is
given only its path parameters and its dependencies, and reads the rest itself (asyncinfer.surfaces.contract's
body routes, which read their body strictly)."""

from __future__ import annotations

import base64
import inspect
import json
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar, get_args, get_origin, get_type_hints

from pydantic_core import to_jsonable_python

from asyncinfer.surfaces import cors

APPLICATION_JSON = "application/json"

Func = TypeVar("Func", bound=Callable[..., Any])


class Param:
    """Where a route's parameter is read; its keywords are what the document says of it (asyncinfer.surfaces.docs
    hands them to Powertools' parameter of the same name)."""

    where = ""

    def __init__(self, **documented: Any) -> None:
        self.alias: str | None = documented.get("alias")
        self.documented = documented


class Path(Param):
    where = "path"


class Query(Param):
    where = "query"


class Header(Param):
    where = "header"


class Body(Param):
    where = "body"


class Depends:
    """A parameter given what `dependency` returns (or what the function's resolver put in its place), once a
    request."""

    def __init__(self, dependency: Callable[[], Any]) -> None:
        self.dependency = dependency


class RequestValidationError(Exception):
    """A request's path, query or header values are not what its route declares."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__(errors)
        self._errors = errors

    def errors(self) -> list[dict[str, Any]]:
        """Each problem: its `loc` (where, name) and `msg`."""
        return self._errors


class ProxyEvent:
    """The proxy event being answered, as the routes read it (header names lowercased)."""

    def __init__(self, event: Mapping[str, Any]) -> None:
        self.raw_event = event
        self.http_method: str = event["httpMethod"]
        self.resource: str = event.get("resource") or ""
        self.path: str | None = event.get("path")
        self.headers: dict[str, str] = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
        self.multi_value_headers: dict[str, Any] = {
            k.lower(): v for k, v in (event.get("multiValueHeaders") or {}).items()
        }
        self.query_string_parameters: dict[str, str] = event.get("queryStringParameters") or {}
        self.multi_value_query_string_parameters: dict[str, Any] = event.get("multiValueQueryStringParameters") or {}
        self.path_parameters: dict[str, str] = event.get("pathParameters") or {}
        self.body: str | None = event.get("body")
        self.is_base64_encoded = bool(event.get("isBase64Encoded"))
        self.request_context: dict[str, Any] = event.get("requestContext") or {}

    @property
    def authorizer(self) -> dict[str, Any]:
        """What the REQUEST authorizer put in the request context (the tenant)."""
        return self.request_context.get("authorizer") or {}


class Response:
    """An answer. A body that is not text, under a JSON content type, is written as compact JSON; a bytes body
    goes base64-encoded, as API Gateway takes binary answers."""

    def __init__(
        self,
        status_code: int,
        content_type: str | None = None,
        body: Any = None,
        headers: Mapping[str, str | list[str]] | None = None,
    ) -> None:
        self.status_code = status_code
        self.body = body
        self.headers: dict[str, str | list[str]] = dict(headers) if headers else {}
        if content_type:
            self.headers.setdefault("Content-Type", content_type)

    def is_json(self) -> bool:
        kind = self.headers.get("Content-Type", "")
        return (kind[0] if isinstance(kind, list) else kind).startswith(APPLICATION_JSON)

    def proxy_result(self) -> dict[str, Any]:
        """The answer as a REST proxy integration returns it."""
        body = self.body
        if self.is_json() and not isinstance(body, str):
            # A value JSON has no type for is written as pydantic's JSON mode writes it (a datetime in ISO 8601).
            body = json.dumps(body, separators=(",", ":"), default=to_jsonable_python)
        encoded = isinstance(body, bytes)
        if encoded:
            body = base64.b64encode(body).decode()
        headers = {
            name: [value] if isinstance(value, str) else list(value)
            for name, value in self.headers.items()
            if value is not None
        }
        return {"statusCode": self.status_code, "body": body, "isBase64Encoded": encoded, "multiValueHeaders": headers}


@dataclass(frozen=True)
class Given:
    """One parameter of a route: its name, and where its value comes from."""

    name: str
    source: Param | Depends
    required: bool


@dataclass(frozen=True)
class Route:
    """A route as its router declares it."""

    method: str
    path: str  # API Gateway's resource path, e.g. /v1/async/{id}
    func: Callable[..., Any]
    params: tuple[Given, ...]
    validated: bool
    documented: dict[str, Any]  # what asyncinfer.surfaces.docs hands Powertools for the document


_EVENT: ContextVar[ProxyEvent] = ContextVar("asyncinfer_proxy_event")


class Router:
    """A surface's routes, in the order it declares them."""

    def __init__(self) -> None:
        self.routes: list[Route] = []

    @property
    def current_event(self) -> ProxyEvent:
        """The event being answered (each thread its own)."""
        return _EVENT.get()

    def route(self, method: str, path: str, *, validated: bool = True, **documented: Any) -> Callable[[Func], Func]:
        def register(func: Func) -> Func:
            self.routes.append(Route(method.upper(), path, func, _params(func), validated, documented))
            return func

        return register


_STRINGS = (str, str | None)
_READ_IN_ORDER = (Path, Query, Header)  # the order of Powertools' validation, and so of its problems


def _params(func: Callable[..., Any]) -> tuple[Given, ...]:
    hints = get_type_hints(func, include_extras=True)
    found = []
    for name, parameter in inspect.signature(func).parameters.items():
        hint = hints.get(name)
        extras = get_args(hint)[1:] if get_origin(hint) is Annotated else ()
        source = next((extra for extra in extras if isinstance(extra, Param | Depends)), None)
        if source is None:
            raise TypeError(f"{func.__qualname__}: {name} is not a Path, Query, Header, Body or Depends parameter")
        if isinstance(source, _READ_IN_ORDER) and get_args(hint)[0] not in _STRINGS:
            raise TypeError(f"{func.__qualname__}: {name}, a path, query or header value, is a str (or str | None)")
        found.append(Given(name, source, parameter.default is inspect.Parameter.empty))
    return tuple(found)


def _sent(source: Param, name: str, event: ProxyEvent) -> Any:
    """The value the request sent for a parameter, as Powertools read it: the multi-value fields first."""
    if isinstance(source, Path):
        return event.path_parameters.get(name)
    if isinstance(source, Query):
        multi = event.multi_value_query_string_parameters
        value = multi[name] if name in multi else event.query_string_parameters.get(name)
    else:
        value = (event.multi_value_headers or event.headers).get(name.lower())
    return value[0] if isinstance(value, list) and len(value) == 1 else value


class Resolver:
    """A function's routes: an event is answered by the route of its method and resource, or by the not-found
    handler; what a route raises, by the handler of the nearest class of it that has one."""

    def __init__(self) -> None:
        self.routes: dict[tuple[str, str], Route] = {}
        self.dependency_overrides: dict[Callable[..., Any], Callable[..., Any]] = {}
        self._handlers: dict[type[Exception], Callable[[Any], Response]] = {}
        self._not_found: Callable[[], Response] = lambda: Response(404, APPLICATION_JSON, {"message": "Not found"})

    @property
    def current_event(self) -> ProxyEvent:
        return _EVENT.get()

    def include_router(self, router: Router) -> None:
        for route in router.routes:
            self.routes.setdefault((route.method, route.path), route)

    def exception_handler(self, kind: type[Exception]) -> Callable[[Func], Func]:
        def register(handler: Func) -> Func:
            self._handlers[kind] = handler
            return handler

        return register

    def not_found(self, handler: Callable[[], Response]) -> Callable[[], Response]:
        self._not_found = handler
        return handler

    def resolve(self, event: Mapping[str, Any], context: Any = None) -> dict[str, Any]:
        current = ProxyEvent(event)
        token = _EVENT.set(current)
        try:
            answer = self._answer(current)
            if allowed := cors.origins():
                answer.headers.update(
                    cors.to_add(answer.headers, cors.answer_headers(current.headers.get("origin"), allowed))
                )
            return answer.proxy_result()
        finally:
            _EVENT.reset(token)

    def _answer(self, event: ProxyEvent) -> Response:
        route = self.routes.get((event.http_method.upper(), event.resource))
        try:
            if route is None:
                return self._not_found()
            result = route.func(**self._arguments(route, event))
        except Exception as exc:
            handler = next((self._handlers[kind] for kind in type(exc).__mro__ if kind in self._handlers), None)
            if handler is None:
                raise
            return handler(exc)
        return result if isinstance(result, Response) else Response(200, APPLICATION_JSON, result)

    def _arguments(self, route: Route, event: ProxyEvent) -> dict[str, Any]:
        given: dict[str, Any] = {}
        problems: list[dict[str, Any]] = []
        for kind in _READ_IN_ORDER if route.validated else (Path,):
            for param in route.params:
                if type(param.source) is not kind:
                    continue
                name = param.source.alias or param.name
                value = _sent(param.source, name, event)
                if value is None:
                    if param.required:
                        problems.append({"loc": (kind.where, name), "msg": "Field required"})
                elif not isinstance(value, str):
                    problems.append({"loc": (kind.where, name), "msg": "Input should be a valid string"})
                else:
                    given[param.name] = value
        if problems:
            raise RequestValidationError(problems)
        provided: dict[Callable[..., Any], Any] = {}
        for param in route.params:
            if isinstance(param.source, Depends):
                provide = self.dependency_overrides.get(param.source.dependency, param.source.dependency)
                if provide not in provided:
                    provided[provide] = provide()
                given[param.name] = provided[provide]
        return given
