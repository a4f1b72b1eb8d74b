"""The ASGI layer of the functions Lambda Web Adapter runs (asyncinfer.surfaces.asgi): routing, errors, answers as
Starlette gave them, and a stream whose client leaves."""

from __future__ import annotations

import asyncio
import json

import pytest

from asyncinfer.domain.errors import DomainError, TaskNotFound
from asyncinfer.surfaces.asgi import App, JSONResponse, Request, Response, Route, StreamingResponse


def scope(method: str, path: str, query: bytes = b"", headers: list | None = None) -> dict:
    return {"type": "http", "method": method, "path": path, "query_string": query, "headers": headers or []}


async def call(app, scope_: dict, body: bytes = b"", *, leave_after: int | None = None) -> list[dict]:
    """The messages the app sends; with `leave_after`, the client disconnects once that many body parts came."""
    sent: list[dict] = []
    left = asyncio.Event()
    asked = False

    async def receive() -> dict:
        nonlocal asked
        if not asked:
            asked = True
            return {"type": "http.request", "body": body, "more_body": False}
        await left.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict) -> None:
        sent.append(message)
        parts = [m for m in sent if m["type"] == "http.response.body"]
        if (leave_after is not None and len(parts) >= leave_after) or not message.get("more_body", True):
            left.set()

    await app(scope_, receive, send)
    return sent


def head(messages: list[dict]) -> tuple[int, dict[bytes, bytes]]:
    return messages[0]["status"], dict(messages[0]["headers"])


def body(messages: list[dict]) -> bytes:
    return b"".join(m.get("body", b"") for m in messages[1:])


async def echo(request: Request) -> Response:
    return JSONResponse(
        {
            "id": request.path_params["id"],
            "q": request.query_params.get("q"),
            "all": request.query_params.getlist("q"),
            "h": request.headers.get("X-Thing"),
            "body": (await request.body()).decode(),
        },
        headers={"X-Seen": "1"},
    )


async def missing(request: Request) -> Response:
    raise TaskNotFound("gone")


async def broken(request: Request) -> Response:
    raise RuntimeError("boom")


async def domain_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, DomainError)
    return JSONResponse({"code": exc.code}, status_code=404)


async def not_found(request: Request) -> Response:
    return JSONResponse({"error": "route"}, status_code=404)


APP = App(
    [
        Route("/things/{id}", echo, methods=["POST"]),
        Route("/things/{id}", missing, methods=["GET"]),
        Route("/broken", broken, methods=["GET"]),
    ],
    errors={DomainError: domain_error},
    not_found=not_found,
)


def test_a_route_gets_its_path_parameters_query_headers_and_body_and_answers_json():
    messages = asyncio.run(
        call(APP, scope("POST", "/things/t1", b"q=a&q=b%20c", [(b"x-thing", b"yes")]), b'{"x": "\xc3\xa9"}')
    )
    status, headers = head(messages)
    assert status == 200
    assert headers[b"content-type"] == b"application/json"
    assert headers[b"x-seen"] == b"1"
    assert int(headers[b"content-length"]) == len(body(messages))
    assert json.loads(body(messages)) == {"id": "t1", "q": "b c", "all": ["a", "b c"], "h": "yes", "body": '{"x": "é"}'}


def test_errors_by_class_unknown_paths_and_methods_answer_as_starlette_did():
    assert json.loads(body(asyncio.run(call(APP, scope("GET", "/things/t1"))))) == {"code": "not_found"}
    assert json.loads(body(asyncio.run(call(APP, scope("GET", "/nowhere"))))) == {"error": "route"}
    head_request = asyncio.run(call(APP, scope("HEAD", "/things/t1")))  # a GET route answers HEAD
    assert head(head_request)[0] == 404
    wrong = asyncio.run(call(APP, scope("PUT", "/things/t1")))
    assert head(wrong)[0] == 405
    assert head(wrong)[1][b"allow"] == b"POST"  # the first route of that path, as Starlette's
    assert body(wrong) == b"Method Not Allowed"


def test_an_unexpected_error_answers_500_and_is_raised_for_the_server_to_log():
    sent: list[dict] = []

    async def receive() -> dict:
        return {"type": "http.request", "body": b""}

    async def send(message: dict) -> None:
        sent.append(message)

    with pytest.raises(RuntimeError, match="boom"):
        asyncio.run(APP(scope("GET", "/broken"), receive, send))
    assert head(sent) == (500, {b"content-length": b"21", b"content-type": b"text/plain; charset=utf-8"})


def test_a_stream_sends_its_parts_then_ends_and_a_leaving_client_cancels_its_making():
    cleaned: list[str] = []

    async def parts(count: int | None):
        try:
            n = 0
            while count is None or n < count:
                n += 1
                yield f"data: {n}\n\n".encode()
                await asyncio.sleep(0)
        finally:
            cleaned.append("done")

    async def run(count: int | None, leave_after: int | None) -> list[dict]:
        async def endpoint(request: Request) -> Response:
            return StreamingResponse(
                parts(count), media_type="text/event-stream", headers={"Cache-Control": "no-cache"}
            )

        app = App([Route("/s", endpoint, methods=["GET"])], errors={}, not_found=not_found)
        return await asyncio.wait_for(call(app, scope("GET", "/s"), leave_after=leave_after), 5)

    ended = asyncio.run(run(3, None))
    assert head(ended) == (200, {b"cache-control": b"no-cache", b"content-type": b"text/event-stream; charset=utf-8"})
    assert body(ended) == b"data: 1\n\ndata: 2\n\ndata: 3\n\n"
    assert ended[-1] == {"type": "http.response.body", "body": b"", "more_body": False}
    assert cleaned == ["done"]

    left = asyncio.run(run(None, 2))  # endless, and the client goes after two parts
    assert left[-1]["more_body"] is True
    assert cleaned == ["done", "done"]


def test_lifespan_is_answered():
    sent: list[dict] = []
    incoming = iter([{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}])

    async def receive() -> dict:
        return next(incoming)

    async def send(message: dict) -> None:
        sent.append(message)

    asyncio.run(APP({"type": "lifespan"}, receive, send))
    assert [m["type"] for m in sent] == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
