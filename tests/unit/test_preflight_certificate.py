"""Preflight's check of the custom domain's certificate (cdk.json `custom_domain.certificate_arn`): in the API's
region, ISSUED, and covering the name. ACM answers through botocore's Stubber."""

import boto3
import pytest
from botocore.stub import Stubber

from asyncinfer.ops.preflight import Host, Result, Target
from asyncinfer.ops.preflight.account import certificate
from asyncinfer.ops.preflight.base import Context

ARN = "arn:aws:acm:eu-west-1:123456789012:certificate/0190a5d2-7b3c-7d4e-8f00-1a2b3c4d5e6f"


def run(answer, name="api.example.com", region="eu-west-1", arn=ARN):
    asked = []

    def clients(service, region_name=None):
        asked.append((service, region_name))
        client = boto3.client(service, region_name=region_name, aws_access_key_id="x", aws_secret_access_key="x")
        stubber = Stubber(client)
        if isinstance(answer, str):
            stubber.add_client_error("describe_certificate", service_error_code=answer)
        else:
            stubber.add_response("describe_certificate", {"Certificate": answer}, {"CertificateArn": arn})
        stubber.activate()
        return client

    ctx = Context(clients, region, Target(custom_domain=(name, arn)), Host())
    return certificate(ctx, name, arn), asked


def test_an_issued_certificate_of_the_region_naming_the_domain_passes_and_is_asked_in_its_region():
    check, asked = run({"CertificateArn": ARN, "DomainName": "api.example.com", "Status": "ISSUED"})
    assert check.result == Result.OK and "issued" in check.detail
    assert asked == [("acm", "eu-west-1")]


def test_a_wildcard_of_the_parent_covers_the_name():
    check, _ = run({"DomainName": "example.com", "SubjectAlternativeNames": ["*.example.com"], "Status": "ISSUED"})
    assert check.result == Result.OK


@pytest.mark.parametrize(
    ("answer", "says", "fix"),
    [
        ({"DomainName": "api.example.com", "Status": "PENDING_VALIDATION"}, "PENDING_VALIDATION", "DNS validation"),
        ({"DomainName": "api.example.com", "Status": "EXPIRED"}, "EXPIRED, not ISSUED", ""),
        (
            {"DomainName": "other.example.org", "Status": "ISSUED"},
            "covers other.example.org, not api.example.com",
            "names it",
        ),
        ({"DomainName": "*.api.example.com", "Status": "ISSUED"}, "not api.example.com", "names it"),
        ("ResourceNotFoundException", "ResourceNotFoundException", "fix the ARN"),
    ],
)
def test_a_certificate_that_would_fail_the_deploy_or_the_handshake_fails_with_its_fix(answer, says, fix):
    check, _ = run(answer)
    assert check.result == Result.FAIL and says in check.detail and fix in check.fix


def test_a_certificate_of_another_region_fails_without_asking_acm():
    check, asked = run({"Status": "ISSUED"}, region="us-east-1")
    assert check.result == Result.FAIL and "is in eu-west-1; the API is regional in us-east-1" in check.detail
    assert asked == []
