"""The small ASGI layer of the functions Lambda Web Adapter runs (asyncinfer.handlers.stream, api_responses):
routes by path and method, a request's headers, query and body, JSON, plain and streamed answers. It is what they
used of Starlette, answering as Starlette did, without its import (anyio, its data structures, multipart): a fifth
of their cold start."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any
from urllib.parse import parse_qsl

from asyncinfer.surfaces import cors

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


class ClientDisconnect(Exception):
    """The client left before its request's body was read."""


class Headers:
    """A request's headers as sent (ASGI names them in lower case); `get` gives the first of a name."""

    def __init__(self, raw: list[tuple[bytes, bytes]]) -> None:
        self._raw = raw

    def get(self, name: str, default: str | None = None) -> str | None:
        key = name.lower().encode("latin-1")
        return next((v.decode("latin-1") for k, v in self._raw if k == key), default)

    def items(self) -> list[tuple[str, str]]:
        return [(k.decode("latin-1"), v.decode("latin-1")) for k, v in self._raw]


class QueryParams(dict[str, str]):
    """The query string's parameters, each name's last value (`getlist` gives them all)."""

    def __init__(self, query_string: bytes) -> None:
        self._pairs = parse_qsl(query_string.decode("latin-1"), keep_blank_values=True)
        super().__init__(self._pairs)

    def getlist(self, name: str) -> list[str]:
        return [value for key, value in self._pairs if key == name]


class Request:
    def __init__(self, scope: Scope, receive: Receive, path_params: dict[str, str]) -> None:
        self.scope = scope
        self.method: str = scope["method"]
        # As Starlette's `url.path`: what would end the path in a URL stays escaped.
        self.path: str = scope["path"].replace("?", "%3F").replace("#", "%23").replace("\\", "%5C")
        self.path_params = path_params
        self.headers = Headers(scope["headers"])
        self.query_params = QueryParams(scope.get("query_string", b""))
        self._receive = receive
        self._body: bytes | None = None

    async def body(self) -> bytes:
        if self._body is None:
            chunks = []
            while True:
                message = await self._receive()
                if message["type"] == "http.disconnect":
                    raise ClientDisconnect()
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False):
                    break
            self._body = b"".join(chunks)
        return self._body


class Response:
    """An answer whole: `content` as is (bytes or text), its length, and its media type when it has one."""

    media_type: str | None = None

    def __init__(
        self,
        content: Any = b"",
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
        media_type: str | None = None,
    ) -> None:
        self.status_code = status_code
        if media_type is not None:
            self.media_type = media_type
        self.body: bytes | None = self.render(content)
        self.raw_headers = self._headers(headers or {})

    def render(self, content: Any) -> bytes | None:
        return content.encode() if isinstance(content, str) else content

    def _headers(self, headers: Mapping[str, str]) -> list[tuple[bytes, bytes]]:
        raw = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
        names = {k for k, _ in raw}
        if self.body is not None and b"content-length" not in names and not self._bodiless():
            raw.append((b"content-length", str(len(self.body)).encode("latin-1")))
        if self.media_type is not None and b"content-type" not in names:
            kind = self.media_type
            if kind.startswith("text/") and "charset=" not in kind.lower():
                kind += "; charset=utf-8"
            raw.append((b"content-type", kind.encode("latin-1")))
        return raw

    def _bodiless(self) -> bool:
        return self.status_code < 200 or self.status_code in (204, 304)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
        await send({"type": "http.response.body", "body": self.body or b""})


class JSONResponse(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return json.dumps(content, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode()


class PlainTextResponse(Response):
    media_type = "text/plain"


class StreamingResponse(Response):
    """An answer sent as its parts come; the client leaving cancels their making (its cleanup runs)."""

    def __init__(
        self,
        parts: AsyncIterator[bytes],
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
        media_type: str | None = None,
    ) -> None:
        self.parts = parts
        super().__init__(None, status_code, headers, media_type)

    async def _stream(self, send: Send) -> None:
        await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
        async for part in self.parts:
            await send({"type": "http.response.body", "body": part, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        streaming = asyncio.ensure_future(self._stream(send))
        listening = asyncio.ensure_future(_disconnect(receive))
        try:
            await asyncio.wait((streaming, listening), return_when=asyncio.FIRST_COMPLETED)
        finally:
            streaming.cancel()
            listening.cancel()
            await asyncio.wait((streaming, listening))
        if not listening.cancelled():
            listening.exception()  # a receive that failed: the client is gone, as a disconnect says
        if not streaming.cancelled() and (failed := streaming.exception()) is not None:
            raise failed


async def _disconnect(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


Endpoint = Callable[[Request], Awaitable[Response]]
ErrorHandler = Callable[[Request, Exception], Awaitable[Response]]


class Route:
    def __init__(self, path: str, endpoint: Endpoint, methods: list[str]) -> None:
        self.path = path
        self.pattern = path_pattern(path)
        self.endpoint = endpoint
        self.methods = set(methods) | ({"HEAD"} if "GET" in methods else set())


def path_pattern(path: str) -> re.Pattern[str]:
    """A route's path, `{name}` standing for one segment, as a pattern its parameters are named groups of."""
    return re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", path) + "$")


class App:
    """Routes in order (the first matching path and method answers; else the first matching path, 405); errors
    raised by an endpoint answered by the handler of their class or nearest base; no route, by `not_found`."""

    def __init__(
        self,
        routes: list[Route],
        *,
        errors: Mapping[type[Exception], ErrorHandler],
        not_found: Callable[[Request], Awaitable[Response]],
    ) -> None:
        self.routes = routes
        self.errors = dict(errors)
        self.not_found = not_found

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        started = False
        crossing = _cors_headers(scope)

        async def sending(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                if crossing:
                    message = {**message, "headers": _with(message.get("headers") or [], crossing)}
            await send(message)

        try:
            response = await self._answer(scope, receive)
            await response(scope, receive, sending)
        except Exception:
            if not started:  # as Starlette's: the error is answered, and raised on for the server to log
                await PlainTextResponse("Internal Server Error", 500)(scope, receive, sending)
            raise

    async def _answer(self, scope: Scope, receive: Receive) -> Response:
        path = scope["path"]
        root = scope.get("root_path", "")
        if root and path.startswith(root + "/"):
            path = path[len(root) :]
        allowed: set[str] = set()
        for route in self.routes:
            if found := route.pattern.match(path):
                if scope["method"] not in route.methods:
                    allowed = allowed or route.methods
                    continue
                request = Request(scope, receive, found.groupdict())
                try:
                    return await route.endpoint(request)
                except Exception as exc:
                    handler = next((self.errors[c] for c in type(exc).__mro__ if c in self.errors), None)
                    if handler is None:
                        raise
                    return await handler(request, exc)
        if allowed:
            return PlainTextResponse("Method Not Allowed", 405, headers={"Allow": ", ".join(sorted(allowed))})
        return await self.not_found(Request(scope, receive, {}))


def _cors_headers(scope: Scope) -> dict[str, str]:
    allowed = cors.origins()
    return cors.answer_headers(Headers(scope["headers"]).get("origin"), allowed) if allowed else {}


def _with(raw: list[tuple[bytes, bytes]], extra: dict[str, str]) -> list[tuple[bytes, bytes]]:
    """`raw` with the CORS headers it lacks (the Responses app's JSON answers come with them, from its resolver)."""
    present = {k.decode("latin-1"): v.decode("latin-1") for k, v in raw}
    added = cors.to_add(present, extra)
    kept = [(k, v) for k, v in raw if k.decode("latin-1") not in added]
    return kept + [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in added.items()]


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        kind = (await receive())["type"]
        if kind == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif kind == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
