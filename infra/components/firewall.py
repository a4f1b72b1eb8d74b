"""A regional WAF web ACL on the API's stage (cdk.json `waf`). Rules, in the order WAF evaluates them:
a rate limit per client IP, AWS's common rule set, its known-bad-inputs set, and the allow-list (when CIDRs are
given, everything else is refused by the default action). Requests are logged to a log group WAF requires to be
named aws-waf-logs-*, without the Authorization header.

The groups' rules that inspect the body only count: a body here is model input (prompts quote code, HTML, paths,
URLs and the exploits they ask about) that the API never renders, opens or fetches (its MCP and webhook URLs pass
its own SSRF check). SizeRestrictions_BODY would refuse every body over 8 KB, so every 1 MiB submit and 4 MiB
upload; CrossSiteScripting_BODY a prompt with `<script>` in it
(https://docs.aws.amazon.com/waf/latest/developerguide/aws-managed-rule-groups-baseline.html). The URI, query
string, headers and cookies are inspected by every rule, in the mode configured."""

from __future__ import annotations

import ipaddress

from aws_cdk import RemovalPolicy
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_logs as logs
from aws_cdk import aws_wafv2 as waf
from constructs import Construct

from infra.public_api import Firewall

W = waf.CfnWebACL
# Each group's rules that inspect the body (the page above lists them).
COMMON_BODY_RULES = (
    "SizeRestrictions_BODY",
    "EC2MetaDataSSRF_BODY",
    "GenericLFI_BODY",
    "GenericRFI_BODY",
    "CrossSiteScripting_BODY",
)
KNOWN_BAD_BODY_RULES = ("JavaDeserializationRCE_BODY", "Log4JRCE_BODY")


def _seen(name: str) -> W.VisibilityConfigProperty:
    return W.VisibilityConfigProperty(cloud_watch_metrics_enabled=True, metric_name=name, sampled_requests_enabled=True)


def _managed(name: str, priority: int, mode: str, counted: tuple[str, ...] = ()) -> W.RuleProperty:
    overrides = [
        W.RuleActionOverrideProperty(name=rule, action_to_use=W.RuleActionProperty(count={})) for rule in counted
    ]
    return W.RuleProperty(
        name=name,
        priority=priority,
        statement=W.StatementProperty(
            managed_rule_group_statement=W.ManagedRuleGroupStatementProperty(
                vendor_name="AWS", name=name, rule_action_overrides=overrides or None
            )
        ),
        override_action=W.OverrideActionProperty(count={}) if mode == "count" else W.OverrideActionProperty(none={}),
        visibility_config=_seen(name),
    )


class ApiFirewall(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, stage: apigw.Stage, config: Firewall, name: str) -> None:
        super().__init__(scope, construct_id)
        rules: list[W.RuleProperty] = []
        if config.rate_limit_per_5min is not None:
            rules.append(
                W.RuleProperty(
                    name="RatePerIp",
                    priority=len(rules),
                    statement=W.StatementProperty(
                        rate_based_statement=W.RateBasedStatementProperty(
                            aggregate_key_type="IP", limit=config.rate_limit_per_5min, evaluation_window_sec=300
                        )
                    ),
                    action=W.RuleActionProperty(block={}),
                    visibility_config=_seen("RatePerIp"),
                )
            )
        rules.append(_managed("AWSManagedRulesCommonRuleSet", len(rules), config.managed_rules, COMMON_BODY_RULES))
        rules.append(
            _managed("AWSManagedRulesKnownBadInputsRuleSet", len(rules), config.managed_rules, KNOWN_BAD_BODY_RULES)
        )
        for version in (4, 6):
            cidrs = [c for c in config.allow_cidrs if ipaddress.ip_network(c).version == version]
            if not cidrs:
                continue
            allowed = waf.CfnIPSet(
                self, f"AllowedIpv{version}", scope="REGIONAL", ip_address_version=f"IPV{version}", addresses=cidrs
            )
            rules.append(
                W.RuleProperty(
                    name=f"AllowListIpv{version}",
                    priority=len(rules),
                    statement=W.StatementProperty(
                        ip_set_reference_statement=W.IPSetReferenceStatementProperty(arn=allowed.attr_arn)
                    ),
                    action=W.RuleActionProperty(allow={}),
                    visibility_config=_seen(f"AllowListIpv{version}"),
                )
            )
        refuse_others = bool(config.allow_cidrs)
        self.acl = W(
            self,
            "WebAcl",
            scope="REGIONAL",
            default_action=W.DefaultActionProperty(block={}) if refuse_others else W.DefaultActionProperty(allow={}),
            rules=rules,
            visibility_config=_seen(f"{name}-waf"),
        )
        waf.CfnWebACLAssociation(self, "Association", resource_arn=stage.stage_arn, web_acl_arn=self.acl.attr_arn)
        self.logs = logs.LogGroup(
            self,
            "Logs",
            log_group_name=f"aws-waf-logs-{name}",
            retention=logs.RetentionDays.THREE_MONTHS,  # as the API's access logs
            removal_policy=RemovalPolicy.DESTROY,
        )
        waf.CfnLoggingConfiguration(
            self,
            "Logging",
            resource_arn=self.acl.attr_arn,
            log_destination_configs=[self.logs.log_group_arn],
            redacted_fields=[waf.CfnLoggingConfiguration.FieldToMatchProperty(single_header={"Name": "authorization"})],
        )
