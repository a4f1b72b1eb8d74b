"""The API's own domain name (cdk.json `custom_domain`, infra/components/domain.py): a regional domain with
TLS 1.2, mapped to the stage at its root; with a Route 53 zone, a DNS-validated certificate and the alias record,
without lookups. cdk-nag runs on every synth here (tests/infra/conftest.py)."""

import pytest
from pydantic import ValidationError

from infra.public_api import CustomDomain
from tests.infra.conftest import synthesize

CERT = "arn:aws:acm:us-east-1:123456789012:certificate/0190a5d2-7b3c-7d4e-8f00-1a2b3c4d5e6f"
ZONE = {"name": "api.example.com", "hosted_zone_id": "Z0123456789ABCDEFGHIJ", "hosted_zone_name": "example.com"}


def _only(resources, kind):
    found = [r for r in resources.values() if r["Type"] == kind]
    assert len(found) == 1, (kind, len(found))
    return found[0]["Properties"]


@pytest.fixture(scope="module")
def zoned():
    return synthesize(custom_domain=ZONE)[1].to_json()


@pytest.fixture(scope="module")
def certified():
    return synthesize(custom_domain={"name": "api.example.com", "certificate_arn": CERT})[1].to_json()


def test_with_a_zone_the_stack_makes_the_certificate_the_domain_its_mapping_and_the_alias(zoned):
    resources = zoned["Resources"]
    certificate = _only(resources, "AWS::CertificateManager::Certificate")
    assert certificate["DomainName"] == "api.example.com" and certificate["ValidationMethod"] == "DNS"
    assert certificate["DomainValidationOptions"] == [
        {"DomainName": "api.example.com", "HostedZoneId": "Z0123456789ABCDEFGHIJ"}
    ]
    domain = _only(resources, "AWS::ApiGateway::DomainName")
    assert domain["DomainName"] == "api.example.com"
    assert domain["SecurityPolicy"] == "TLS_1_2"
    assert domain["EndpointConfiguration"] == {"Types": ["REGIONAL"]}
    assert "Ref" in domain["RegionalCertificateArn"]  # the certificate made here
    mapping = _only(resources, "AWS::ApiGateway::BasePathMapping")
    assert "BasePath" not in mapping or mapping["BasePath"] in ("", None)  # the root
    assert "Stage" in mapping
    record = _only(resources, "AWS::Route53::RecordSet")
    assert record["Type"] == "A" and record["HostedZoneId"] == "Z0123456789ABCDEFGHIJ"
    assert record["Name"] == "api.example.com."
    assert "AliasTarget" in record
    assert zoned["Outputs"]["CustomDomainUrl"]["Value"] == "https://api.example.com/"


def test_with_a_certificate_the_stack_makes_no_certificate_nor_record(certified):
    resources = certified["Resources"]
    domain = _only(resources, "AWS::ApiGateway::DomainName")
    assert domain["RegionalCertificateArn"] == CERT and domain["SecurityPolicy"] == "TLS_1_2"
    _only(resources, "AWS::ApiGateway::BasePathMapping")
    assert not [
        r
        for r in resources.values()
        if r["Type"] in ("AWS::CertificateManager::Certificate", "AWS::Route53::RecordSet")
    ]


def test_without_it_nothing_of_it_is_made(resources):
    kinds = {r["Type"] for r in resources.values()}
    assert not kinds & {"AWS::ApiGateway::DomainName", "AWS::ApiGateway::BasePathMapping", "AWS::Route53::RecordSet"}


@pytest.mark.parametrize(
    "given",
    [
        {"name": "api.example.com"},  # neither way
        {"name": "api.example.com", "certificate_arn": CERT, "hosted_zone_id": "Z0123456789ABCDEFGHIJ"},  # both
        {"name": "api.example.com", "hosted_zone_id": "Z0123456789ABCDEFGHIJ"},  # half a zone
        {**ZONE, "name": "api.example.org"},  # not in the zone
        {**ZONE, "name": "API.example.com"},  # uppercase
        {"name": "api.example.com", "certificate_arn": "arn:aws:iam::123456789012:server-certificate/x"},
        {**ZONE, "extra": 1},
    ],
)
def test_a_domain_given_wrong_is_refused_before_anything_is_built(given):
    with pytest.raises(ValidationError):
        CustomDomain.model_validate(given)


def test_the_certificate_s_region_is_read_from_its_arn():
    assert CustomDomain(name="api.example.com", certificate_arn=CERT).certificate_region == "us-east-1"


def test_with_the_waf_too_the_domain_serves_the_stage_the_web_acl_guards(capfd):
    """The combination: the web ACL is on the stage, which the domain maps; cdk-nag reports nothing of either."""
    capfd.readouterr()
    resources = synthesize(custom_domain=ZONE, waf={"enabled": True})[1].to_json()["Resources"]
    report = "".join(capfd.readouterr())
    mapping = _only(resources, "AWS::ApiGateway::BasePathMapping")
    association = _only(resources, "AWS::WAFv2::WebACLAssociation")
    stage = mapping["Stage"]["Ref"]
    assert stage in str(association["ResourceArn"])
    assert "AwsSolutions-" not in report
