"""Preflight's checks of the custom domain's Route 53 zone and of a private API's VPC endpoints
(docs/operate/going-public.md). Route 53 and EC2 answer through botocore's Stubber."""

import boto3
import pytest
from botocore.stub import Stubber

from asyncinfer.ops.preflight import Host, Result, Target
from asyncinfer.ops.preflight.account import hosted_zone, vpc_endpoints
from asyncinfer.ops.preflight.base import Context

ZONE_ID = "Z0123456789ABCDEFGHIJ"
IDS = ("vpce-0123456789abcdef0", "vpce-0fedcba9876543210")


def _context(service, operation, answer, params):
    def clients(name, region_name=None):
        assert name == service
        client = boto3.client(name, region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="x")
        stubber = Stubber(client)
        if isinstance(answer, str):
            stubber.add_client_error(operation, service_error_code=answer)
        else:
            stubber.add_response(operation, answer, params)
        stubber.activate()
        return client

    return Context(clients, "eu-west-1", Target(), Host())


def zone(answer):
    ctx = _context("route53", "get_hosted_zone", answer, {"Id": ZONE_ID})
    return hosted_zone(ctx, "api.example.com", ZONE_ID, "example.com")


def _zone(name="example.com.", private=False):
    return {
        "HostedZone": {
            "Id": f"/hostedzone/{ZONE_ID}",
            "Name": name,
            "CallerReference": "r",
            "Config": {"PrivateZone": private},
        },
        "DelegationSet": {"NameServers": ["ns-1.awsdns-01.org"]},
    }


def test_a_public_zone_of_that_name_passes():
    check = zone(_zone())
    assert check.result == Result.OK and "public zone example.com" in check.detail


@pytest.mark.parametrize(
    ("answer", "says"),
    [
        ("NoSuchHostedZone", "NoSuchHostedZone"),
        (_zone(name="example.org."), "is example.org, not example.com"),
        (_zone(private=True), "private zone"),
    ],
)
def test_a_zone_that_would_leave_the_certificate_unvalidated_fails(answer, says):
    check = zone(answer)
    assert check.result == Result.FAIL and says in check.detail and check.fix


def endpoints(found):
    ctx = _context("ec2", "describe_vpc_endpoints", found, {"VpcEndpointIds": list(IDS)})
    return vpc_endpoints(ctx, IDS)


def _endpoint(vpce, service="com.amazonaws.eu-west-1.execute-api", state="available", kind="Interface", dns=True):
    return {
        "VpcEndpointId": vpce,
        "VpcEndpointType": kind,
        "ServiceName": service,
        "State": state,
        "PrivateDnsEnabled": dns,
    }


def test_available_execute_api_endpoints_pass():
    check = endpoints({"VpcEndpoints": [_endpoint(IDS[0]), _endpoint(IDS[1], dns=False)]})
    assert check.result == Result.OK and check.detail == "2 for execute-api, available; private DNS on for 1"


@pytest.mark.parametrize(
    ("found", "result", "says"),
    [
        ("InvalidVpcEndpointId.NotFound", Result.FAIL, "InvalidVpcEndpointId.NotFound"),
        ({"VpcEndpoints": [_endpoint(IDS[0])]}, Result.FAIL, f"not found in eu-west-1: {IDS[1]}"),
        (
            {"VpcEndpoints": [_endpoint(IDS[0]), _endpoint(IDS[1], service="com.amazonaws.eu-west-1.s3")]},
            Result.FAIL,
            f"not interface endpoints for execute-api: {IDS[1]}",
        ),
        (
            {"VpcEndpoints": [_endpoint(IDS[0]), _endpoint(IDS[1], state="pendingAcceptance")]},
            Result.WARN,
            f"not available yet: {IDS[1]} (pendingAcceptance)",
        ),
    ],
)
def test_endpoints_the_api_could_not_answer_through_are_named(found, result, says):
    check = endpoints(found)
    assert check.result == result and says in check.detail
