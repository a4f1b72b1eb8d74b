"""Preflights on API Gateway (cdk.json `cors_origins`): an OPTIONS method on every resource of the route table,
answered by API Gateway itself (a MOCK integration), with no authorizer, since a browser's preflight never carries
the key (https://repost.aws/knowledge-center/api-gateway-401-error-lambda-authorizer).

CDK's own preflight (`add_cors_preflight`) answers an origin not allowed with the first allowed one; here its
template sets the CORS headers only for an allowed origin (`$context.responseOverride`), so another gets none,
as the functions' answers (asyncinfer.surfaces.cors). With proxy integrations the functions add their answers'
headers themselves (https://docs.aws.amazon.com/apigateway/latest/developerguide/how-to-cors.html)."""

from __future__ import annotations

import json
from collections.abc import Iterable

from aws_cdk import aws_apigateway as apigw

from asyncinfer.surfaces import cors
from infra.nag import acknowledge

_HEADERS = (
    cors.ALLOW_ORIGIN,
    "Access-Control-Allow-Methods",
    "Access-Control-Allow-Headers",
    "Access-Control-Max-Age",
)


def preflight_template(origins: tuple[str, ...]) -> str:
    """The MOCK integration's response template: the preflight's headers, for an allowed origin only."""
    allowed = cors.preflight_headers(origins[0], origins)
    condition = " || ".join(f"$origin == {json.dumps(origin)}" for origin in origins)
    lines = [
        '#set($origin = $input.params().header.get("Origin"))',
        '#if("$!origin" == "")#set($origin = $input.params().header.get("origin"))#end',
        f"#if({condition})",
        "#set($context.responseOverride.header.Access-Control-Allow-Origin = $origin)",
        *(f"#set($context.responseOverride.header.{name} = {json.dumps(allowed[name])})" for name in _HEADERS[1:]),
        "#end",
    ]
    return "\n".join(lines)


def add_preflights(api: apigw.RestApi, paths: Iterable[str], origins: tuple[str, ...]) -> list[apigw.Method]:
    """An OPTIONS method on each resource of `paths`, answering 204."""
    integration = apigw.MockIntegration(
        request_templates={"application/json": '{"statusCode": 204}'},
        integration_responses=[
            apigw.IntegrationResponse(
                status_code="204",
                response_parameters={"method.response.header.Vary": "'Origin'"},
                response_templates={"application/json": preflight_template(origins)},
            )
        ],
    )
    answer = apigw.MethodResponse(
        status_code="204",
        response_parameters={f"method.response.header.{name}": True for name in (*_HEADERS, "Vary")},
    )
    methods = []
    for path in sorted(set(paths)):
        method = api.root.resource_for_path(path).add_method(
            "OPTIONS",
            integration,
            method_responses=[answer],
            authorization_type=apigw.AuthorizationType.NONE,
            api_key_required=False,
        )
        reason = "A CORS preflight: browsers send it without the key; API Gateway answers it (MOCK), no data."
        acknowledge(method, "APIG4", reason)
        acknowledge(method, "COG4", reason)
        methods.append(method)
    return methods


def gateway_headers(origins: tuple[str, ...]) -> dict[str, str]:
    """API Gateway's own answers' CORS headers, quoted as its gateway responses take fixed values."""
    return {name: f"'{value}'" for name, value in cors.gateway_headers(origins).items()}
