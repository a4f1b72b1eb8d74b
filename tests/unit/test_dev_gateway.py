"""The dev gateway (infra/local/devserver.py) hands the functions the events API Gateway would: through the
execute-api name (the stage in the path) or, with ASYNCINFER_LOCAL_DOMAIN_NAME, through a custom domain mapped at
its root; and answers preflights and its own errors with CORS headers as API Gateway is configured to."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from asyncinfer.routes import Route
from asyncinfer.surfaces import cors
from infra.local.devserver import DOMAIN_ENV, build_app

ROUTES = (Route("GET", "/v1/things/{id}", "api_async", authorized=False),)
APP = "http://127.0.0.1:5173"


class Recorded:
    def __init__(self) -> None:
        self.events: list[dict] = []

    def invoke(self, name: str, event: dict) -> dict:
        self.events.append(event)
        return {"statusCode": 200, "body": "{}", "multiValueHeaders": {"Content-Type": ["application/json"]}}


def _get(monkeypatch, domain: str | None) -> dict:
    if domain:
        monkeypatch.setenv(DOMAIN_ENV, domain)
    else:
        monkeypatch.delenv(DOMAIN_ENV, raising=False)
    functions = Recorded()
    with TestClient(build_app(functions, ROUTES)) as client:
        assert client.get("/v1/things/t1").status_code == 200
    return functions.events[0]


def test_through_execute_api_the_stage_is_in_the_path(monkeypatch):
    event = _get(monkeypatch, None)
    assert event["requestContext"]["path"] == "/dev/v1/things/t1"
    assert event["requestContext"]["domainName"].endswith(".execute-api.us-east-1.amazonaws.com")


def test_through_a_custom_domain_the_path_is_as_sent(monkeypatch):
    event = _get(monkeypatch, "api.example.test")
    assert (event["path"], event["requestContext"]["path"]) == ("/v1/things/t1", "/v1/things/t1")
    assert event["requestContext"]["domainName"] == event["headers"]["host"] == "api.example.test"


@pytest.mark.parametrize(("origins", "named"), [(APP, APP), (f"{APP},https://b.example.test", None), ("", None)])
def test_its_own_errors_name_the_origin_only_when_there_is_one(monkeypatch, origins, named):
    monkeypatch.setenv(cors.ORIGINS_ENV, origins)
    with TestClient(build_app(Recorded(), ROUTES)) as client:
        missing = client.get("/v1/nothing", headers={"Origin": APP})
    assert missing.status_code == 404
    assert missing.headers.get("access-control-allow-origin") == named


def test_a_preflight_is_answered_without_the_function_only_when_cors_is_on(monkeypatch):
    functions = Recorded()
    monkeypatch.setenv(cors.ORIGINS_ENV, APP)
    with TestClient(build_app(functions, ROUTES)) as client:
        allowed = client.options("/v1/things/t1", headers={"Origin": APP, "Access-Control-Request-Method": "GET"})
        other = client.options("/v1/things/t1", headers={"Origin": "https://b.example.test"})
    monkeypatch.delenv(cors.ORIGINS_ENV)
    with TestClient(build_app(functions, ROUTES)) as client:
        off = client.options("/v1/things/t1", headers={"Origin": APP})
    assert allowed.status_code == 204 and allowed.headers["access-control-allow-origin"] == APP
    assert other.status_code == 204 and "access-control-allow-origin" not in other.headers
    assert off.status_code == 404
    assert functions.events == []
