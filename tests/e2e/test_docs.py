"""/openapi.json over HTTP: public, every route listed, every request example accepted (the page itself, in a
browser: test_docs_browser.py)."""

import httpx
import pytest

from asyncinfer.routes import ROUTES

pytestmark = pytest.mark.e2e


def test_the_openapi_document_is_public_and_lists_every_route(stack):
    response = httpx.get(f"{stack.url}/openapi.json", timeout=10)  # no key
    assert response.status_code == 200
    document = response.json()
    assert document["openapi"] == "3.1.0"
    assert {(m.upper(), p) for p, item in document["paths"].items() for m in item} == {
        (r.method, r.path) for r in ROUTES
    }


def test_each_request_example_in_the_document_is_accepted_as_it_stands(stack):
    """What /docs' "Try it out" sends (tests/e2e/test_docs_browser.py presses it in Chromium), over plain HTTP."""
    paths = httpx.get(f"{stack.url}/openapi.json", timeout=10).json()["paths"]
    examples = {
        (method.upper(), path): operation["requestBody"]["content"]["application/json"]["example"]
        for path, item in paths.items()
        for method, operation in item.items()
        if "requestBody" in operation
    }
    assert set(examples) >= {
        ("POST", "/v1/async"),
        ("POST", "/v1/messages/async"),
        ("POST", "/async/chat/completions"),
        ("POST", "/v1/async/sonar"),
        ("POST", "/v1/generation"),
    }
    with stack.client(stack.new_key("docs-examples")) as client:
        answers = {route: client.request(*route, json=example) for route, example in examples.items()}
    # A route of one resource (`{id}` in its path) is sent as it stands: its body is read before its id is
    # looked up, so the id naming nothing (404) says the example was accepted.
    expected = {route: 404 if "{" in route[1] else 200 for route in answers}
    refused = {route: (r.status_code, r.text) for route, r in answers.items() if r.status_code != expected[route]}
    assert not refused
