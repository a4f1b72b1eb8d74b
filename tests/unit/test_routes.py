"""The route table is made of what the surfaces' routers declare (asyncinfer.routes.SURFACES), and each API
function's resolver serves exactly the routes the table gives it."""

import importlib

import pytest

from asyncinfer.routes import HANDLERS, ROUTES, SURFACES

RESOLVED = [function for function in SURFACES if function != "stream"]  # the streaming function is an ASGI app


def served(function: str) -> set[tuple[str, str]]:
    app = importlib.import_module(HANDLERS[function].rsplit(".", 1)[0]).app
    return set(app.routes)  # (method, resource path)


@pytest.mark.parametrize("function", RESOLVED)
def test_each_function_serves_exactly_its_surfaces_routes(function):
    assert served(function) == {(r.method, r.path) for r in ROUTES if r.function == function}


def test_every_route_is_declared_once_and_served_by_a_function():
    assert len({(r.method, r.path) for r in ROUTES}) == len(ROUTES)
    assert {r.function for r in ROUTES} == set(SURFACES) <= set(HANDLERS)
    streaming = {(r.method, r.path) for r in ROUTES if r.streaming}
    # The SSE routes, and every route of the Responses function (an ASGI app, which streams when asked).
    responses = {(r.method, r.path) for r in ROUTES if r.function == "api_responses"}
    assert len(responses) == 5
    assert streaming == {("GET", "/v1/async/{id}/events"), ("GET", "/v1/messages/async/{id}/stream")} | responses
    assert {(r.method, r.path) for r in ROUTES if not r.authorized} == {("GET", "/openapi.json"), ("GET", "/docs")}
