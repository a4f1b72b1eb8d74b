"""What a first deploy into a fresh account or region depends on: API Gateway's CloudWatch Logs role, an
alarm topic CloudWatch can publish to, the Web Adapter layer, and a stream filter Lambda accepts."""

import pytest

from asyncinfer.routes import HANDLERS
from asyncinfer.store.dynamodb_stream import ENDED_FILTERS
from tests.infra.conftest import synthesize
from tests.infra.helpers import CONFIG, functions_by_handler, of_type

pytestmark = pytest.mark.infra

PUSH_TO_LOGS = "service-role/AmazonAPIGatewayPushToCloudWatchLogs"


def statements_for(policy: dict, service: str) -> list[dict]:
    return [
        s
        for s in policy["Statement"]
        if isinstance(s.get("Principal"), dict) and s["Principal"].get("Service") == service
    ]


def test_the_stack_sets_api_gateways_cloudwatch_role_before_the_stage_that_logs(template):
    resources = template.to_json()["Resources"]
    ((account_id, account),) = [(n, r) for n, r in resources.items() if r["Type"] == "AWS::ApiGateway::Account"]
    role_id = account["Properties"]["CloudWatchRoleArn"]["Fn::GetAtt"][0]
    role = resources[role_id]
    (trust,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "apigateway.amazonaws.com"}
    assert any(PUSH_TO_LOGS in str(arn) for arn in role["Properties"]["ManagedPolicyArns"])
    # Kept when the stack goes: other APIs of the account and region may log through the same setting.
    assert account["DeletionPolicy"] == role["DeletionPolicy"] == "Retain"
    (stage,) = [r for r in resources.values() if r["Type"] == "AWS::ApiGateway::Stage"]
    assert "AccessLogSetting" in stage["Properties"]
    assert account_id in stage.get("DependsOn", []), "the stage must wait for the account's logging role"


def test_a_team_whose_account_has_the_role_can_leave_the_setting_alone():
    _, template = synthesize(api_gateway_cloudwatch_role=False)
    resources = template.to_json()["Resources"]
    assert not of_type(resources, "AWS::ApiGateway::Account")
    roles = of_type(resources, "AWS::IAM::Role").values()
    assert not [r for r in roles if PUSH_TO_LOGS in str(r.get("ManagedPolicyArns"))]


def test_the_alarm_topic_is_encrypted_with_a_key_cloudwatch_may_use(resources):
    ((topic_id, topic),) = of_type(resources, "AWS::SNS::Topic").items()
    key_id = topic["KmsMasterKeyId"]["Fn::GetAtt"][0]  # a key of this stack, not alias/aws/sns
    key = resources[key_id]["Properties"]
    assert resources[key_id]["Type"] == "AWS::KMS::Key"
    assert key["EnableKeyRotation"] is True
    (grant,) = statements_for(key["KeyPolicy"], "cloudwatch.amazonaws.com")
    assert grant["Effect"] == "Allow"
    assert set(grant["Action"]) == {"kms:Decrypt", "kms:GenerateDataKey*"}
    # ... only when CloudWatch acts for this account's alarms (the confused deputy).
    assert grant["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}
    (policy,) = [p for p in of_type(resources, "AWS::SNS::TopicPolicy").values() if {"Ref": topic_id} in p["Topics"]]
    (publish,) = statements_for(policy["PolicyDocument"], "cloudwatch.amazonaws.com")
    assert publish["Effect"] == "Allow" and publish["Action"] == "sns:Publish"
    assert publish["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}
    for alarm in of_type(resources, "AWS::CloudWatch::Alarm").values():
        assert alarm["AlarmActions"] == [{"Ref": topic_id}]


def layer_of(resources) -> str:
    (layer,) = functions_by_handler(resources)[HANDLERS["stream"]][1]["Layers"]
    if isinstance(layer, str):
        return layer
    return "".join(p if isinstance(p, str) else "<region>" for p in layer["Fn::Join"][1])


def test_the_web_adapter_layer_is_the_public_one_of_each_architecture_or_the_configured_arn(resources):
    version = CONFIG.web_adapter_layer_version
    assert version >= 26  # the newest published as of docs/operate/deploy.md
    assert layer_of(resources) == f"arn:aws:lambda:<region>:753240598075:layer:LambdaAdapterLayerArm64:{version}"
    _, x86 = synthesize(architecture="x86_64")
    assert layer_of(x86.to_json()["Resources"]).endswith(f":753240598075:layer:LambdaAdapterLayerX86:{version}")
    china = "arn:aws-cn:lambda:cn-north-1:041581134020:layer:LambdaAdapterLayerX86:26"
    _, elsewhere = synthesize(architecture="x86_64", web_adapter_layer_arn=china)
    assert layer_of(elsewhere.to_json()["Resources"]) == china


def test_the_stream_filter_deployed_tests_only_the_dynamodb_key(resources):
    (mapping,) = [m for m in of_type(resources, "AWS::Lambda::EventSourceMapping").values() if "FilterCriteria" in m]
    assert len(mapping["FilterCriteria"]["Filters"]) == len(ENDED_FILTERS)
    for found in mapping["FilterCriteria"]["Filters"]:
        assert found["Pattern"].startswith('{"dynamodb":') and '"eventName"' not in found["Pattern"]
