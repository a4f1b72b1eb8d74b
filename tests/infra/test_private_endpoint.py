"""A private API (cdk.json `endpoint: "private"`, `vpc_endpoint_ids`; infra/components/endpoint.py): PRIVATE and
associated with the endpoints named, a resource policy that refuses every other source, and a base URL output per
endpoint. cdk-nag runs on every synth (tests/infra/conftest.py)."""

import pytest
from pydantic import ValidationError

from infra.config import InfraConfig
from tests.infra.conftest import nag_report_without_apig3_acknowledged, synthesize

IDS = ["vpce-0123456789abcdef0", "vpce-0a1b2c3d"]
PRIVATE = {"endpoint": "private", "vpc_endpoint_ids": IDS}
EVERYONE = {"AWS": "*"}  # iam.AnyPrincipal, the documented "Principal": "*"


def _only(resources, kind):
    found = [r["Properties"] for r in resources.values() if r["Type"] == kind]
    assert len(found) == 1, (kind, len(found))
    return found[0]


@pytest.fixture(scope="module")
def private():
    stack, template = synthesize(**PRIVATE)
    return stack, template.to_json()


def test_the_api_is_private_to_the_endpoints_named(private):
    _, template = private
    api = _only(template["Resources"], "AWS::ApiGateway::RestApi")
    assert api["EndpointConfiguration"] == {"Types": ["PRIVATE"], "VpcEndpointIds": IDS}


def test_its_policy_allows_invoking_only_through_them(private):
    _, template = private
    api = _only(template["Resources"], "AWS::ApiGateway::RestApi")
    assert api["Policy"] == {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": EVERYONE, "Action": "execute-api:Invoke", "Resource": "execute-api:/*"},
            {
                "Effect": "Deny",
                "Principal": EVERYONE,
                "Action": "execute-api:Invoke",
                "Resource": "execute-api:/*",
                "Condition": {"StringNotEquals": {"aws:SourceVpce": IDS}},
            },
        ],
    }


def test_each_endpoint_has_its_url_output_and_api_url_stays(private):
    stack, template = private
    outputs = template["Outputs"]
    assert "ApiUrl" in outputs
    for vpce in IDS:
        separator, parts = outputs[f"ApiUrlVpce{vpce.removeprefix('vpce-')}"]["Value"]["Fn::Join"]
        assert separator == "" and parts[0] == "https://"
        assert parts[1] == stack.resolve(stack.api.rest_api.rest_api_id)
        assert parts[2] == f"-{vpce}.execute-api."
        assert parts[3] == {"Ref": "AWS::Region"} and parts[5] == {"Ref": "AWS::URLSuffix"}
        assert parts[4] == "." and parts[6] == "/prod/"


def test_regional_by_default_with_no_policy_nor_endpoint_outputs(template):
    resources, outputs = template.to_json()["Resources"], template.to_json()["Outputs"]
    api = _only(resources, "AWS::ApiGateway::RestApi")
    assert api["EndpointConfiguration"] == {"Types": ["REGIONAL"]}
    assert "Policy" not in api
    assert not [name for name in outputs if name.startswith("ApiUrlVpce")]


def test_with_the_waf_the_private_stage_is_guarded_and_cdk_nag_finds_nothing(capfd):
    capfd.readouterr()
    resources = synthesize(**PRIVATE, waf={"enabled": True})[1].to_json()["Resources"]
    report = "".join(capfd.readouterr())
    assert _only(resources, "AWS::ApiGateway::RestApi")["EndpointConfiguration"]["Types"] == ["PRIVATE"]
    association = _only(resources, "AWS::WAFv2::WebACLAssociation")
    stage = next(name for name, r in resources.items() if r["Type"] == "AWS::ApiGateway::Stage")
    assert stage in str(association["ResourceArn"])
    assert "AwsSolutions-" not in report


def test_apig3_is_still_acknowledged_only_without_the_waf(monkeypatch, capfd):
    """Private or not, the web ACL is what meets APIG3; off, only its acknowledgement passes."""
    assert "AwsSolutions-APIG3" in nag_report_without_apig3_acknowledged(monkeypatch, capfd, **PRIVATE)
    assert "AwsSolutions-APIG3" not in nag_report_without_apig3_acknowledged(
        monkeypatch, capfd, **PRIVATE, waf={"enabled": True}
    )


ZONE = {"name": "api.example.com", "hosted_zone_id": "Z0123456789ABCDEFGHIJ", "hosted_zone_name": "example.com"}


@pytest.mark.parametrize(
    ("given", "says"),
    [
        ({"endpoint": "private"}, "needs vpc_endpoint_ids"),
        ({"endpoint": "private", "vpc_endpoint_ids": []}, "needs vpc_endpoint_ids"),
        ({"vpc_endpoint_ids": IDS}, 'only for endpoint "private"'),
        ({**PRIVATE, "custom_domain": ZONE}, "DomainNameV2"),
        ({"endpoint": "private", "vpc_endpoint_ids": ["vpc-0123456789abcdef0"]}, "pattern"),
        ({"endpoint": "private", "vpc_endpoint_ids": ["vpce-0123ABCD"]}, "pattern"),
        ({"endpoint": "private", "vpc_endpoint_ids": [f"vpce-{n:08x}" for n in range(21)]}, "at most 20"),
        ({"endpoint": "public"}, "'regional' or 'private'"),
    ],
)
def test_an_endpoint_given_wrong_is_refused_before_anything_is_built(given, says):
    with pytest.raises(ValidationError, match=says):
        InfraConfig.model_validate(given)


def test_endpoints_named_twice_count_once_in_their_order():
    config = InfraConfig.model_validate({"endpoint": "private", "vpc_endpoint_ids": [IDS[1], IDS[0], IDS[1]]})
    assert config.vpc_endpoint_ids == [IDS[1], IDS[0]]


def test_private_with_the_waf_is_valid_and_regional_needs_nothing():
    assert InfraConfig.model_validate({**PRIVATE, "waf": {"enabled": True}}).endpoint == "private"
    assert InfraConfig.model_validate({}).vpc_endpoint_ids == []
