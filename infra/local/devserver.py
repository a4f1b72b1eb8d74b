"""An ASGI app that plays API Gateway (REST): it routes by resource path, runs the REQUEST authorizer,
and hands the same proxy events to the same handlers that run in Lambda."""

from __future__ import annotations

import base64
import fnmatch
import importlib
import json
import os
import re
import time
import uuid
from dataclasses import dataclass
from functools import partial
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route as StarletteRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from asyncinfer.routes import ROUTES, Route
from asyncinfer.surfaces import cors
from asyncinfer.surfaces.edge import ROUTE_NOT_FOUND, UNAUTHORIZED
from asyncinfer.surfaces.serving import WEB_APPS
from asyncinfer.tasks.keys import takes_x_api_key
from infra.local.functions import LocalFunctions

ACCOUNT = "000000000000"
API_ID = "localapi"
STAGE = "dev"
REGION = "us-east-1"
DOMAIN_ENV = "ASYNCINFER_LOCAL_DOMAIN_NAME"


@dataclass(frozen=True)
class Match:
    route: Route
    params: dict[str, str]


class Router:
    """API Gateway's resource matching: static segments win over {params}; {proxy+} is greedy."""

    def __init__(self, routes: tuple[Route, ...]) -> None:
        self._compiled = []
        for route in routes:
            pattern = re.sub(r"\{(\w+)\+\}", r"(?P<\1>.+)", route.path)
            pattern = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", pattern)
            self._compiled.append((re.compile(f"^{pattern}$"), route))

    def match(self, method: str, path: str) -> Match | None:
        """The route, or None. Like API Gateway, the most specific resource is chosen first and a method
        it lacks is not looked for on a less specific one."""
        candidates = []
        for regex, route in self._compiled:
            found = regex.match(path)
            if found:
                candidates.append(Match(route, found.groupdict()))
        if not candidates:
            return None
        best = min(candidates, key=lambda c: len(c.params)).route.path
        if method == "OPTIONS":  # the preflight method every resource has when CORS is on (infra/components/cors.py)
            return next(c for c in candidates if c.route.path == best)
        return next((c for c in candidates if c.route.path == best and c.route.method == method), None)


def _method_arn(method: str, path: str) -> str:
    return f"arn:aws:execute-api:{REGION}:{ACCOUNT}:{API_ID}/{STAGE}/{method}{path}"


def _request_context(request: Request, route: Route, request_id: str) -> dict[str, Any]:
    # Through a custom domain mapped at its root (cdk.json custom_domain), API Gateway names the domain and gives
    # the path as sent, without the stage; ASYNCINFER_LOCAL_DOMAIN_NAME makes the dev gateway do the same.
    domain = os.environ.get(DOMAIN_ENV)
    return {
        "resourcePath": route.path,
        "httpMethod": request.method,
        "path": request.url.path if domain else f"/{STAGE}{request.url.path}",
        "domainName": domain or f"{API_ID}.execute-api.{REGION}.amazonaws.com",
        "stage": STAGE,
        "requestId": request_id,
        "accountId": ACCOUNT,
        "apiId": API_ID,
        "protocol": "HTTP/1.1",
        "requestTimeEpoch": int(time.time() * 1000),
        "identity": {
            "sourceIp": request.client.host if request.client else "127.0.0.1",
            "userAgent": request.headers.get("user-agent", ""),
        },
    }


def _headers(request: Request) -> tuple[dict[str, str], dict[str, list[str]]]:
    multi: dict[str, list[str]] = {}
    for name, value in request.headers.items():
        multi.setdefault(name, []).append(value)
    if domain := os.environ.get(DOMAIN_ENV):
        multi["host"] = [domain]
    return {name: values[-1] for name, values in multi.items()}, multi


def _query(request: Request) -> tuple[dict[str, str] | None, dict[str, list[str]] | None]:
    multi: dict[str, list[str]] = {}
    for name, value in request.query_params.multi_items():
        multi.setdefault(name, []).append(value)
    if not multi:
        return None, None
    return {name: values[-1] for name, values in multi.items()}, multi


def _allows(policy: dict[str, Any], method_arn: str) -> bool:
    allowed = False
    for statement in policy.get("policyDocument", {}).get("Statement", []):
        resources = statement.get("Resource", [])
        resources = [resources] if isinstance(resources, str) else resources
        if any(fnmatch.fnmatchcase(method_arn, pattern) for pattern in resources):
            if statement.get("Effect") == "Deny":
                return False
            allowed = True
    return allowed


def _error(status: int, body: dict[str, Any]) -> JSONResponse:
    # API Gateway's own answers (its gateway responses), with their fixed CORS headers.
    return JSONResponse(body, status_code=status, headers=cors.gateway_headers(cors.origins()))


class StreamedBy(Response):
    """Hands a streaming route to the streaming app, as Lambda Web Adapter does on AWS: the request
    context travels in the x-amzn-request-context header, never one the client sent."""

    def __init__(self, app: ASGIApp, context: dict[str, Any], body: bytes, invoke: Any = None) -> None:
        self._app = app
        self._context = context
        self._body = body
        # How the app invokes its function's resolver here (asyncinfer.handlers.api_responses.LOCAL_INVOKE).
        self._invoke = invoke

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(k, v) for k, v in scope["headers"] if k.lower() != b"x-amzn-request-context"]
        headers.append((b"x-amzn-request-context", json.dumps(self._context).encode()))
        replayed = False

        async def replay() -> dict[str, Any]:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": self._body, "more_body": False}
            return await receive()

        extra = {"asyncinfer.invoke": self._invoke} if self._invoke else {}
        await self._app({**scope, "headers": headers, **extra}, replay, send)


def load_web_app(function: str) -> ASGIApp:
    """The ASGI app a function runs under Lambda Web Adapter (asyncinfer.surfaces.serving.WEB_APPS)."""
    module_name, _, attr = WEB_APPS[function].partition(":")
    return getattr(importlib.import_module(module_name), attr)


def build_app(
    functions: LocalFunctions, routes: tuple[Route, ...] = ROUTES, authorizer_cache_seconds: float = 300
) -> Starlette:
    router = Router(routes)
    # API Gateway caches an authorizer's Allow by identity source (the Authorization header) for the
    # stack's authorizer_cache_seconds; so does the dev gateway (a refusal is asked again every time).
    allowed: dict[str, tuple[float, dict[str, Any]]] = {}
    web_apps = {route.function: load_web_app(route.function) for route in routes if route.streaming}

    async def gateway(request: Request) -> Response:
        # Like API Gateway, take the whole request before anything else: a client that hangs up
        # right after sending must not lose its submit.
        body = await request.body()
        found = router.match(request.method, request.url.path)
        # A REST API answers a wrong method like an unknown path (its MISSING_AUTHENTICATION_TOKEN
        # gateway response, which the stack maps to this 404).
        origins = cors.origins()
        if found is None or (found.route.method != request.method and not origins):
            return _error(404, ROUTE_NOT_FOUND)
        if found.route.method != request.method:  # OPTIONS: API Gateway's MOCK answers it, no authorizer
            return Response(status_code=204, headers=cors.preflight_headers(request.headers.get("origin"), origins))
        request_id = str(uuid.uuid4())
        headers, multi_headers = _headers(request)
        query, multi_query = _query(request)
        context = _request_context(request, found.route, request_id)
        if found.route.authorized:
            # As on AWS: the x-api-key routes' authorizer has no identity source and no cache (it gets every
            # request); the others' requires Authorization and is cached by it.
            open_to_x_api_key = takes_x_api_key(found.route.path)
            identity = None if open_to_x_api_key else headers.get("authorization")
            if not open_to_x_api_key and not identity:
                return _error(401, UNAUTHORIZED)
            method_arn = _method_arn(request.method, request.url.path)
            auth_event = {
                "type": "REQUEST",
                "methodArn": method_arn,
                "resource": found.route.path,
                "path": request.url.path,
                "httpMethod": request.method,
                "headers": headers,
                "multiValueHeaders": multi_headers,
                "queryStringParameters": query or {},
                "multiValueQueryStringParameters": multi_query or {},
                "pathParameters": found.params,
                "stageVariables": {},
                "requestContext": context,
            }
            cached = allowed.get(identity) if identity else None
            if cached and cached[0] > time.monotonic():
                policy = cached[1]
            else:
                try:
                    policy = await run_in_threadpool(functions.invoke, "authorizer", auth_event)
                except Exception as exc:
                    if str(exc) == "Unauthorized":
                        return _error(401, UNAUTHORIZED)
                    return _error(500, {"error": {"code": "authorizer_error", "message": "Authorizer failed"}})
                if authorizer_cache_seconds > 0 and identity:
                    allowed[identity] = (time.monotonic() + authorizer_cache_seconds, policy)
            if not _allows(policy, method_arn):
                return _error(403, {"error": {"code": "forbidden", "message": "Not allowed"}})
            context["authorizer"] = {
                **policy.get("context", {}),
                "principalId": policy.get("principalId"),
                "integrationLatency": 0,
            }
        if found.route.streaming:
            # Its JSON answers through the function's resolver, as any API function's, one invocation at a time.
            function = found.route.function
            invoke = None if function == "stream" else partial(functions.invoke, function)
            return StreamedBy(web_apps[function], context, body, invoke)
        try:
            text, is_b64 = body.decode(), False
        except UnicodeDecodeError:
            text, is_b64 = base64.b64encode(body).decode(), True
        event = {
            "resource": found.route.path,
            "path": request.url.path,
            "httpMethod": request.method,
            "headers": headers,
            "multiValueHeaders": multi_headers,
            "queryStringParameters": query,
            "multiValueQueryStringParameters": multi_query,
            "pathParameters": found.params or None,
            "stageVariables": None,
            "requestContext": context,
            "body": text if body else None,
            "isBase64Encoded": is_b64,
        }
        result = await run_in_threadpool(functions.invoke, found.route.function, event)
        return _proxy_response(result)

    async def unroutable(request: Request, exc: Exception) -> JSONResponse:
        # A path Starlette cannot even match (a decoded newline) or a method it does not take: as any
        # unknown route, in the JSON shape, never Starlette's plain-text page.
        return _error(404, ROUTE_NOT_FOUND)

    return Starlette(
        routes=[
            StarletteRoute(
                "/{path:path}", gateway, methods=["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
            )
        ],
        exception_handlers={404: unroutable, 405: unroutable},
    )


def _proxy_response(result: dict[str, Any]) -> Response:
    raw = result.get("body") or ""
    body = base64.b64decode(raw) if result.get("isBase64Encoded") else raw.encode()
    headers = dict(result.get("headers") or {})
    for name, values in (result.get("multiValueHeaders") or {}).items():
        headers[name] = ", ".join(values)
    headers.pop("Content-Length", None)
    return Response(content=body, status_code=int(result.get("statusCode", 200)), headers=headers)
