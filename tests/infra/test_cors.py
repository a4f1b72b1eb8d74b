"""CORS on API Gateway (cdk.json `cors_origins`, infra/components/cors.py): a preflight on every resource,
answered by API Gateway with no authorizer and only for an allowed origin; every function that answers a
browser told the origins; API Gateway's own answers name the origin when there is exactly one."""

import pytest
from pydantic import ValidationError

from asyncinfer.routes import ROUTES
from asyncinfer.surfaces import cors
from infra.components.cors import preflight_template
from infra.config import InfraConfig
from tests.infra.conftest import synthesize

APP = "https://app.example.com"
TOOL = "http://127.0.0.1:5173"


def _methods(resources, verb):
    return [
        r["Properties"]
        for r in resources.values()
        if r["Type"] == "AWS::ApiGateway::Method" and r["Properties"]["HttpMethod"] == verb
    ]


@pytest.fixture(scope="module")
def one_origin():
    return synthesize(cors_origins=[APP])[1].to_json()["Resources"]


@pytest.fixture(scope="module")
def two_origins():
    return synthesize(cors_origins=[APP, TOOL])[1].to_json()["Resources"]


def test_every_resource_of_the_route_table_has_a_preflight_with_no_authorizer(two_origins):
    preflights = _methods(two_origins, "OPTIONS")
    assert len(preflights) == len({route.path for route in ROUTES})
    for method in preflights:
        assert method["AuthorizationType"] == "NONE" and "AuthorizerId" not in method
        assert method["ApiKeyRequired"] is False
        integration = method["Integration"]
        assert integration["Type"] == "MOCK"
        (answer,) = integration["IntegrationResponses"]
        assert answer["StatusCode"] == "204"
        template = answer["ResponseTemplates"]["application/json"]
        assert f'$origin == "{APP}" || $origin == "{TOOL}"' in template


def test_the_preflight_names_only_an_allowed_origin_and_what_it_may_send():
    template = preflight_template((APP,))
    condition, *named, end = template.splitlines()[2:]
    assert condition == f'#if($origin == "{APP}")' and end == "#end"
    assert "Access-Control-Allow-Origin = $origin" in named[0], "the request's own origin, once it is allowed"
    headers = next(line for line in named if "Allow-Headers" in line)
    assert all(name in headers for name in cors.REQUEST_HEADERS)
    assert not any("Allow-Origin" in line for line in [*template.splitlines()[:2], end])


def test_every_function_that_answers_a_browser_knows_the_origins(two_origins):
    def function_of(method):
        parts = method["Properties"]["Integration"]["Uri"]["Fn::Join"][1]
        return next(part["Fn::GetAtt"][0] for part in parts if isinstance(part, dict) and "Fn::GetAtt" in part)

    answering = {
        function_of(r)
        for r in two_origins.values()
        if r["Type"] == "AWS::ApiGateway::Method" and r["Properties"]["Integration"]["Type"] != "MOCK"
    }
    told = {
        name
        for name, r in two_origins.items()
        if r["Type"] == "AWS::Lambda::Function"
        and (r["Properties"].get("Environment") or {}).get("Variables", {}).get(cors.ORIGINS_ENV) == f"{APP},{TOOL}"
    }
    assert len(answering) >= 9
    assert answering <= told, f"answers a route but is not told the origins: {answering - told}"


def test_api_gateways_own_answers_name_the_one_origin(one_origin, two_origins):
    def headers(resources):
        return {
            r["Properties"]["ResponseType"]: r["Properties"].get("ResponseParameters", {})
            for r in resources.values()
            if r["Type"] == "AWS::ApiGateway::GatewayResponse"
        }

    one = headers(one_origin)
    for kind in ("UNAUTHORIZED", "ACCESS_DENIED", "THROTTLED", "DEFAULT_4XX", "DEFAULT_5XX"):
        assert one[kind]["gatewayresponse.header.Access-Control-Allow-Origin"] == f"'{APP}'", kind
    assert one["THROTTLED"]["gatewayresponse.header.Retry-After"] == "'1'"
    # Fixed values only: with two origins, naming one would be wrong for the other, copying Origin wrong for all.
    assert not any("Access-Control-Allow-Origin" in str(params) for params in headers(two_origins).values())


def test_without_origins_there_is_no_preflight_and_no_cors_anywhere(resources):
    assert _methods(resources, "OPTIONS") == []
    # (and a throttled client is still told when to come back: CDK's ResponseType values are never ==)
    (throttled,) = [r["Properties"] for r in resources.values() if r["Properties"].get("ResponseType") == "THROTTLED"]
    assert throttled["ResponseParameters"] == {"gatewayresponse.header.Retry-After": "'1'"}
    assert cors.ORIGINS_ENV not in str(resources)
    assert "Access-Control" not in str(resources)


@pytest.mark.parametrize("origin", ["*", f"{APP}/", f"{APP}/app", "app.example.com", "https://APP.example.com"])
def test_what_is_not_an_origin_fails_the_configuration(origin):
    with pytest.raises(ValidationError, match="cors_origins"):
        InfraConfig(cors_origins=[origin])


def test_cors_the_waf_and_a_private_endpoint_together_synthesize_clean():
    # cdk-nag runs on every synth (tests/infra/conftest.py): any finding would fail here.
    _, template = synthesize(
        cors_origins=[APP],
        waf={"enabled": True},
        endpoint="private",
        vpc_endpoint_ids=["vpce-0123456789abcdef0"],
    )
    resources = template.to_json()["Resources"]
    assert _methods(resources, "OPTIONS")
    assert [r for r in resources.values() if r["Type"] == "AWS::WAFv2::WebACLAssociation"]
    (api,) = [r["Properties"] for r in resources.values() if r["Type"] == "AWS::ApiGateway::RestApi"]
    assert api["EndpointConfiguration"]["Types"] == ["PRIVATE"]
