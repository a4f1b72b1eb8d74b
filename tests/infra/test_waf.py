"""The WAF web ACL on the API's stage (cdk.json `waf`, infra/components/firewall.py). cdk-nag runs on every synth
(tests/infra/conftest.py): with the web ACL on, APIG3 is met by it, not acknowledged."""

import json

import pytest
from pydantic import ValidationError

from infra.public_api import Firewall
from tests.infra.conftest import nag_report_without_apig3_acknowledged, synthesize

ON = {
    "enabled": True,
    "managed_rules": "block",
    "rate_limit_per_5min": 500,
    "allow_cidrs": ["203.0.113.0/24", "2001:db8::/32"],
}


def _of(resources, kind):
    return [r["Properties"] for r in resources.values() if r["Type"] == kind]


@pytest.fixture(scope="module")
def guarded():
    stack, template = synthesize(waf=ON)
    return stack, template.to_json()["Resources"]


def test_the_web_acl_is_regional_on_the_stage_with_its_rules_in_order(guarded):
    _, resources = guarded
    (acl,) = _of(resources, "AWS::WAFv2::WebACL")
    assert acl["Scope"] == "REGIONAL"
    assert acl["DefaultAction"] == {"Block": {}}  # an allow-list is given: every other address is refused
    names = [rule["Name"] for rule in sorted(acl["Rules"], key=lambda rule: rule["Priority"])]
    assert names == [
        "RatePerIp",
        "AWSManagedRulesCommonRuleSet",
        "AWSManagedRulesKnownBadInputsRuleSet",
        "AllowListIpv4",
        "AllowListIpv6",
    ]
    rules = {rule["Name"]: rule for rule in acl["Rules"]}
    rate = rules["RatePerIp"]["Statement"]["RateBasedStatement"]
    assert rate == {"AggregateKeyType": "IP", "Limit": 500, "EvaluationWindowSec": 300}
    assert rules["RatePerIp"]["Action"] == {"Block": {}}
    common = rules["AWSManagedRulesCommonRuleSet"]
    assert common["OverrideAction"] == {"None": {}}  # block: the group's own actions
    overrides = common["Statement"]["ManagedRuleGroupStatement"]["RuleActionOverrides"]
    # A body is model input: its rules only count (1 MiB submits pass; so does a prompt quoting <script>).
    counted = {o["Name"] for o in overrides if o["ActionToUse"] == {"Count": {}}}
    assert len(overrides) == len(counted) == 5
    assert {"SizeRestrictions_BODY", "CrossSiteScripting_BODY"} <= counted
    assert all(name.endswith("_BODY") for name in counted)
    known_bad = rules["AWSManagedRulesKnownBadInputsRuleSet"]["Statement"]["ManagedRuleGroupStatement"]
    assert {o["Name"] for o in known_bad["RuleActionOverrides"]} == {"JavaDeserializationRCE_BODY", "Log4JRCE_BODY"}
    assert rules["AllowListIpv4"]["Action"] == {"Allow": {}}
    sets = sorted((s["IPAddressVersion"], s["Addresses"]) for s in _of(resources, "AWS::WAFv2::IPSet"))
    assert sets == [("IPV4", ["203.0.113.0/24"]), ("IPV6", ["2001:db8::/32"])]


def test_it_is_associated_with_the_stage_and_logs_without_the_key(guarded):
    stack, resources = guarded
    (association,) = _of(resources, "AWS::WAFv2::WebACLAssociation")
    arn = stack.resolve(stack.api.rest_api.deployment_stage.stage_arn)
    assert stack.resolve(association["ResourceArn"]) == arn or association["ResourceArn"] == arn
    (logging,) = _of(resources, "AWS::WAFv2::LoggingConfiguration")
    assert logging["RedactedFields"] == [{"SingleHeader": {"Name": "authorization"}}]
    groups = [
        g for g in _of(resources, "AWS::Logs::LogGroup") if str(g.get("LogGroupName", "")).startswith("aws-waf-logs-")
    ]
    assert len(groups) == 1 and groups[0]["RetentionInDays"] == 90


def test_count_mode_watches_without_blocking_and_no_allow_list_allows_by_default():
    resources = synthesize(waf={"enabled": True})[1].to_json()["Resources"]
    (acl,) = _of(resources, "AWS::WAFv2::WebACL")
    assert acl["DefaultAction"] == {"Allow": {}}
    managed = [rule for rule in acl["Rules"] if "ManagedRuleGroupStatement" in rule["Statement"]]
    assert len(managed) == 2 and all(rule["OverrideAction"] == {"Count": {}} for rule in managed)
    assert not _of(resources, "AWS::WAFv2::IPSet")


def test_off_by_default(resources):
    assert not _of(resources, "AWS::WAFv2::WebACL")


def test_apig3_is_met_by_the_web_acl_and_off_only_its_acknowledgement_passes(monkeypatch, capfd):
    """Without the acknowledgement, cdk-nag reports APIG3 when the WAF is off, and not when it is on."""
    assert "AwsSolutions-APIG3" in nag_report_without_apig3_acknowledged(monkeypatch, capfd)
    assert "AwsSolutions-APIG3" not in nag_report_without_apig3_acknowledged(monkeypatch, capfd, waf={"enabled": True})


@pytest.mark.parametrize(
    "given",
    [
        {"rate_limit_per_5min": 9},
        {"allow_cidrs": ["203.0.113.1/24"]},
        {"allow_cidrs": ["not-a-cidr"]},
        {"managed_rules": "allow"},
        {"size": 1},
    ],
)
def test_a_firewall_given_wrong_is_refused(given):
    with pytest.raises(ValidationError):
        Firewall.model_validate({"enabled": True, **given})


def test_a_request_the_firewall_refuses_is_answered_in_the_api_s_error_shape(resources):
    (refused,) = [r["Properties"] for r in resources.values() if r["Properties"].get("ResponseType") == "WAF_FILTERED"]
    assert refused["StatusCode"] == "403"
    assert json.loads(refused["ResponseTemplates"]["application/json"])["error"]["code"] == "blocked"
