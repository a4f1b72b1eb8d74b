"""CORS answers (asyncinfer.surfaces.cors): the allowed origin only, on every kind of answer a function gives
(JSON, errors, streamed), and a preflight list that names every header and method the routes take."""

from __future__ import annotations

import asyncio
import re

import pytest

from asyncinfer.routes import ROUTES
from asyncinfer.surfaces import cors
from asyncinfer.surfaces.asgi import App, JSONResponse, Route, StreamingResponse
from asyncinfer.surfaces.contract import HEADER_NAMES
from asyncinfer.surfaces.routing import APPLICATION_JSON, Resolver, Response, Router

APP = "https://app.example.test"
OTHER = "https://evil.example.test"


@pytest.fixture
def allowed(monkeypatch):
    monkeypatch.setenv(cors.ORIGINS_ENV, f"{APP}, http://127.0.0.1:5173")


def test_the_origins_are_the_comma_separated_list():
    assert cors.origins({cors.ORIGINS_ENV: f" {APP},,http://127.0.0.1:5173 "}) == (APP, "http://127.0.0.1:5173")
    assert cors.origins({}) == ()


def test_an_answer_names_an_allowed_origin_and_no_other():
    mine = cors.answer_headers(APP, (APP,))
    assert mine["Access-Control-Allow-Origin"] == APP and mine["Vary"] == "Origin"
    assert {"Retry-After", "openai-poll-after-ms", "traceparent"} <= set(
        mine["Access-Control-Expose-Headers"].split(", ")
    )
    assert cors.answer_headers(OTHER, (APP,)) == {"Vary": "Origin"}
    assert cors.answer_headers(None, (APP,)) == {"Vary": "Origin"}
    assert cors.answer_headers(APP, ()) == {}, "CORS off: nothing"


def test_a_preflight_lists_every_header_and_method_the_routes_take():
    answer = cors.preflight_headers(APP, (APP,))
    sent = {name.lower() for name in answer["Access-Control-Allow-Headers"].split(", ")}
    assert set(HEADER_NAMES) <= sent, "every header a route declares"
    assert {"authorization", "content-type", "x-api-key"} <= sent
    assert {route.method for route in ROUTES} <= set(answer["Access-Control-Allow-Methods"].split(", "))
    assert cors.preflight_headers(OTHER, (APP,)) == {"Vary": "Origin"}
    assert cors.preflight_headers(None, ()) == {}


def test_the_gateway_names_an_origin_only_when_there_is_one():
    assert cors.gateway_headers((APP,))["Access-Control-Allow-Origin"] == APP
    assert cors.gateway_headers((APP, "http://127.0.0.1:5173")) == {}, "its values are fixed: never a copied Origin"
    assert cors.gateway_headers(()) == {}


def test_a_vary_already_there_is_joined_not_replaced():
    assert cors.to_add({"vary": "Accept"}, {"Vary": "Origin"}) == {"vary": "Accept, Origin"}
    assert cors.to_add({"Vary": "Origin"}, {"Vary": "Origin"}) == {}
    assert cors.to_add({"Access-Control-Allow-Origin": APP}, {"Access-Control-Allow-Origin": OTHER}) == {}


def _resolver() -> Resolver:
    router = Router()

    @router.route("GET", "/ok")
    def ok() -> dict:
        return {"ok": True}

    @router.route("GET", "/broken")
    def broken() -> dict:
        raise KeyError("x")

    app = Resolver()
    app.include_router(router)

    @app.exception_handler(KeyError)
    def _missing(exc: KeyError) -> Response:
        return Response(404, APPLICATION_JSON, {"error": {"code": "not_found", "message": "No"}})

    return app


def _event(path: str, origin: str | None) -> dict:
    headers = {"Origin": origin} if origin else {}
    return {"httpMethod": "GET", "resource": path, "path": path, "headers": headers, "requestContext": {}}


def test_a_function_answers_an_allowed_origin_with_its_headers_errors_included(allowed):
    app = _resolver()
    for path in ("/ok", "/broken"):
        answer = app.resolve(_event(path, APP))
        assert answer["multiValueHeaders"]["Access-Control-Allow-Origin"] == [APP], path
        assert answer["multiValueHeaders"]["Vary"] == ["Origin"]
    other = app.resolve(_event("/ok", OTHER))["multiValueHeaders"]
    assert "Access-Control-Allow-Origin" not in other and other["Vary"] == ["Origin"]


def test_without_origins_a_function_adds_nothing(monkeypatch):
    monkeypatch.delenv(cors.ORIGINS_ENV, raising=False)
    assert set(_resolver().resolve(_event("/ok", APP))["multiValueHeaders"]) == {"Content-Type"}


def _served(app: App, origin: str, path: str) -> dict[str, list[str]]:
    sent: list[dict] = []

    async def receive() -> dict:
        await asyncio.sleep(3600)
        return {"type": "http.disconnect"}

    async def send(message: dict) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "GET", "path": path, "headers": [(b"origin", origin.encode())]}
    asyncio.run(app(scope, receive, send))
    headers: dict[str, list[str]] = {}
    for name, value in sent[0]["headers"]:
        headers.setdefault(name.decode(), []).append(value.decode())
    return headers


def test_a_streamed_answer_and_one_that_has_them_already_carry_them_once(allowed):
    async def events(request):
        async def parts():
            yield b"data: 1\n\n"

        return StreamingResponse(parts(), media_type="text/event-stream")

    async def resolved(request):  # as the Responses app's JSON answers: its resolver added them
        return JSONResponse({}, headers={"Access-Control-Allow-Origin": APP, "Vary": "Origin"})

    async def not_found(request):
        return JSONResponse({}, 404)

    app = App(
        [Route("/events", events, ["GET"]), Route("/resolved", resolved, ["GET"])], errors={}, not_found=not_found
    )
    streamed = _served(app, APP, "/events")
    assert streamed["access-control-allow-origin"] == [APP] and streamed["vary"] == ["Origin"]
    assert _served(app, APP, "/resolved")["access-control-allow-origin"] == [APP]
    assert _served(app, APP, "/nothing")["access-control-allow-origin"] == [APP], "a 404 too"
    assert "access-control-allow-origin" not in _served(app, OTHER, "/events")


@pytest.mark.parametrize("origin", [APP, "http://127.0.0.1:5173", "http://[::1]:8080", "http://localhost"])
def test_origins_as_browsers_send_them_pass(origin):

    assert re.match(cors.ORIGIN, origin)


@pytest.mark.parametrize("origin", ["*", f"{APP}/", f"{APP}/path", "app.example.test", "ftp://x.test", "https://*.x"])
def test_anything_else_is_not_an_origin(origin):

    assert not re.match(cors.ORIGIN, origin)


# Set by the browser itself, or safelisted: never in a preflight's Access-Control-Request-Headers.
_BROWSERS_OWN = {"accept", "accept-encoding", "connection", "host", "user-agent", "content-length"}


def _sent_by(client_of) -> set[str]:
    import httpx2

    sent: set[str] = set()

    def answer(request):
        sent.update(request.headers.keys())
        return httpx2.Response(200, json={"data": [], "has_more": False, "first_id": None, "last_id": None})

    client_of(httpx2.Client(transport=httpx2.MockTransport(answer))).models.list()
    return sent - _BROWSERS_OWN


@pytest.mark.parametrize("sdk", ["openai", "anthropic"])
def test_the_official_sdks_headers_are_all_allowed(sdk):
    """The SDKs add their own headers to every request; a preflight that did not name one would refuse them all."""
    if sdk == "openai":
        from openai import OpenAI

        sent = _sent_by(lambda http: OpenAI(api_key="k", base_url="http://127.0.0.1:9/v1", http_client=http))
    else:
        from anthropic import Anthropic

        sent = _sent_by(lambda http: Anthropic(api_key="k", base_url="http://127.0.0.1:9", http_client=http))
    assert any(name.startswith("x-stainless-") for name in sent)
    assert sent <= {name.lower() for name in cors.REQUEST_HEADERS}
