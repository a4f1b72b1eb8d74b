"""The API's endpoint (cdk.json `endpoint`, `vpc_endpoint_ids`): regional, or private to the interface VPC
endpoints named, each associated with the API so that it has its own DNS name, and a resource policy that
refuses every other source.

Pages: https://docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-private-apis.html (a private API
needs a resource policy), https://docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-private-api-create.html
(its steps), https://docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-resource-policies-examples.html
(the Allow and Deny pair on aws:SourceVpce, "Allow private API traffic based on source VPC or VPC endpoint"), and
https://docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-private-api-test-invoke-url.html (an
associated endpoint's URL, https://{rest-api-id}-{vpce-id}.execute-api.{region}.amazonaws.com/{stage})."""

from __future__ import annotations

from typing import Any

from aws_cdk import Stack
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from constructs import Construct

from infra.config import InfraConfig

INVOKE = "execute-api:Invoke"
EVERY_METHOD = "execute-api:/*"  # every stage, method and path of this API


def endpoint_settings(scope: Construct, config: InfraConfig) -> dict[str, Any]:
    """The RestApi's keyword arguments for its endpoint: its type, and when private its VPC endpoints and policy."""
    if config.endpoint == "regional":
        return {"endpoint_types": [apigw.EndpointType.REGIONAL]}
    endpoints = [
        ec2.InterfaceVpcEndpoint.from_interface_vpc_endpoint_attributes(scope, vpce, port=443, vpc_endpoint_id=vpce)
        for vpce in config.vpc_endpoint_ids
    ]
    return {
        "endpoint_configuration": apigw.EndpointConfiguration(
            types=[apigw.EndpointType.PRIVATE], vpc_endpoints=endpoints
        ),
        "policy": private_policy(config.vpc_endpoint_ids),
    }


def private_policy(vpc_endpoint_ids: list[str]) -> iam.PolicyDocument:
    """Anyone may invoke, then a Deny of every request that did not come through one of the endpoints: the
    authorizer still checks each request's key."""
    return iam.PolicyDocument(
        statements=[
            iam.PolicyStatement(
                effect=iam.Effect.ALLOW, principals=[iam.AnyPrincipal()], actions=[INVOKE], resources=[EVERY_METHOD]
            ),
            iam.PolicyStatement(
                effect=iam.Effect.DENY,
                principals=[iam.AnyPrincipal()],
                actions=[INVOKE],
                resources=[EVERY_METHOD],
                conditions={"StringNotEquals": {"aws:SourceVpce": list(vpc_endpoint_ids)}},
            ),
        ]
    )


def private_urls(api: apigw.RestApi, config: InfraConfig) -> dict[str, str]:
    """Per VPC endpoint, an output name and the API's base URL through it (resolved at deploy)."""
    stack = Stack.of(api)
    return {
        "ApiUrlVpce" + vpce.removeprefix("vpce-"): (
            f"https://{api.rest_api_id}-{vpce}.execute-api.{stack.region}.{stack.url_suffix}/{config.stage}/"
        )
        for vpce in config.vpc_endpoint_ids
    }
