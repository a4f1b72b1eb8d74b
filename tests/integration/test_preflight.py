"""`asyncinfer preflight`: each check against the emulator where it answers the calls (STS, CloudFormation,
SSM, API Gateway, IAM, Secrets Manager), with botocore's Stubber where it does not (Lambda's layer and
account settings, Bedrock's model availability)."""

import json
import subprocess
from datetime import UTC, date, datetime
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import NoCredentialsError
from botocore.stub import Stubber
from moto import mock_aws

from asyncinfer import cli
from asyncinfer.ops.deployment import BOOTSTRAP_VERSION_PARAMETER
from asyncinfer.ops.preflight import Demand, Host, Preflight, Result, Target, render

pytestmark = pytest.mark.integration

REGION = "eu-west-1"
ROOT = Path(__file__).resolve().parents[2]
LAYER = "arn:aws:lambda:eu-west-1:753240598075:layer:LambdaAdapterLayerArm64:26"
NOVA = "amazon.nova-lite-v1:0"
# This machine, as the checks see it: both tools on PATH, a supported Node.js, a fixed day.
TODAY = date(2026, 12, 6)
HOST = Host(which=lambda _: "/usr/bin/x", node_version=lambda: "v22.12.0", today=lambda: TODAY)
# What the default stack demands (tests/infra/test_preflight_demand.py reads it from the synthesized template).
DEMAND = Demand({"worker": 40, "batch": 5, "webhook_sender": 5}, ("api_async", "authorizer", "stream"))
ACTIVE = {
    "modelDetails": {
        "modelArn": f"arn:aws:bedrock:{REGION}::foundation-model/amazon.nova-lite-v1:0",
        "modelId": "amazon.nova-lite-v1:0",
        "modelLifecycle": {"status": "ACTIVE", "startOfLifeTime": datetime(2024, 12, 3, tzinfo=UTC)},
    }
}
AVAILABLE = {
    "modelId": NOVA,
    "agreementAvailability": {"status": "AVAILABLE"},
    "authorizationStatus": "AUTHORIZED",
    "entitlementAvailability": "AVAILABLE",
    "regionAvailability": "AVAILABLE",
}


def stubbed(service: str, responses: list[tuple[str, dict | str, dict]]):
    """A real client whose answers are given: (operation, response or error code, expected params)."""
    client = boto3.client(service, region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x")
    stubber = Stubber(client)
    for operation, answer, params in responses:
        if isinstance(answer, str):
            stubber.add_client_error(operation, service_error_code=answer, expected_params=params)
        else:
            stubber.add_response(operation, answer, params)
    stubber.activate()
    return client


def lambda_answers(layer: dict | str = "ok", concurrency: int = 1000, durable: str = "ResourceNotFoundException"):
    layer_answer = {"LayerVersionArn": LAYER, "Version": 26, "CompatibleArchitectures": ["arm64"]}
    return stubbed(
        "lambda",
        [
            ("get_layer_version_by_arn", layer_answer if layer == "ok" else layer, {"Arn": LAYER}),
            ("get_account_settings", {"AccountLimit": {"ConcurrentExecutions": concurrency}}, {}),
            # A region with durable functions knows no such function; one without them has no such API.
            ("list_durable_executions_by_function", durable, {"FunctionName": "asyncinfer-preflight-probe"}),
        ],
    )


@pytest.fixture
def account(monkeypatch):
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        yield


def bootstrap(version: str = "28") -> None:
    cfn = boto3.client("cloudformation", region_name=REGION)
    template = {"Resources": {"Bucket": {"Type": "AWS::S3::Bucket"}}}
    cfn.create_stack(StackName="CDKToolkit", TemplateBody=json.dumps(template))
    boto3.client("ssm", region_name=REGION).put_parameter(
        Name=BOOTSTRAP_VERSION_PARAMETER, Value=version, Type="String"
    )


def clients_with(**stubs):
    def clients(service: str, region: str | None = None):
        return stubs[service] if service in stubs else boto3.client(service, region_name=region or REGION)

    return clients


def by_name(checks):
    return {check.name: check for check in checks}


def test_a_fresh_account_gets_a_fix_for_every_failing_line(account):
    secret = f"arn:aws:secretsmanager:{REGION}:123456789012:secret:asyncinfer/openai-AbCdEf"
    bedrock = stubbed(
        "bedrock",
        [
            (
                "get_foundation_model_availability",
                {**AVAILABLE, "authorizationStatus": "NOT_AUTHORIZED"},
                {"modelId": NOVA},
            ),
            ("get_foundation_model", ACTIVE, {"modelIdentifier": NOVA}),
        ],
    )
    target = Target(bedrock_models=((f"us.{NOVA}", None),), secret_arns=(secret,), demand=DEMAND)
    checks = Preflight(
        clients_with(bedrock=bedrock, **{"lambda": lambda_answers(concurrency=10)}),
        REGION,
        target,
        HOST,
    ).run()
    found = by_name(checks)
    assert found["region"].result == found["credentials"].result == Result.OK
    assert "123456789012" in found["credentials"].detail
    assert found["CDK bootstrap"].result == Result.FAIL and "make bootstrap" in found["CDK bootstrap"].fix
    assert found["stack"].result == Result.OK and "first deploy" in found["stack"].detail
    assert (
        found["API Gateway logging role"].result == Result.OK
        and "creates it" in found["API Gateway logging role"].detail
    )
    assert found["Web Adapter layer"].result == Result.OK
    assert found["Lambda concurrency"].result == Result.WARN and "Service Quotas" in found["Lambda concurrency"].fix
    model = found[f"Bedrock us.{NOVA}"]
    assert model.result == Result.FAIL and "not authorized" in model.detail and "Bedrock console" in model.fix
    (secret_check,) = [c for c in checks if c.name.startswith("secret ")]
    assert secret_check.result == Result.FAIL and "ResourceNotFoundException" in secret_check.detail
    text = render(checks)
    assert "✗ CDK bootstrap: no CDKToolkit stack in eu-west-1\n    fix: make bootstrap" in text
    assert found["long tasks (durable functions)"].result == Result.OK
    assert text.endswith("not ready: 3 of 14 checks failed")


def test_a_ready_account_passes_every_check(account):
    bootstrap()
    iam = boto3.client("iam", region_name=REGION)
    role = iam.create_role(RoleName="apigw-logs", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    boto3.client("apigateway", region_name=REGION).update_account(
        patchOperations=[{"op": "replace", "path": "/cloudwatchRoleArn", "value": role}]
    )
    secret = boto3.client("secretsmanager", region_name=REGION).create_secret(
        Name="asyncinfer/openai", SecretString="k"
    )
    bedrock = stubbed(
        "bedrock",
        [
            ("get_foundation_model_availability", AVAILABLE, {"modelId": NOVA}),
            ("get_foundation_model", ACTIVE, {"modelIdentifier": NOVA}),
        ],
    )
    target = Target(
        api_gateway_cloudwatch_role=False, bedrock_models=((NOVA, None),), secret_arns=(secret["ARN"],), demand=DEMAND
    )
    checks = Preflight(clients_with(bedrock=bedrock, **{"lambda": lambda_answers()}), REGION, target, HOST).run()
    assert [c for c in checks if c.result != Result.OK] == []
    assert by_name(checks)["API Gateway logging role"].detail == role
    assert render(checks).endswith("ready to deploy")


def test_the_logging_role_the_account_names_must_exist_when_the_stack_leaves_it_alone(account):
    bootstrap()
    boto3.client("apigateway", region_name=REGION).update_account(
        patchOperations=[
            {"op": "replace", "path": "/cloudwatchRoleArn", "value": "arn:aws:iam::123456789012:role/gone"}
        ]
    )
    clients = clients_with(**{"lambda": lambda_answers()})
    alone = by_name(Preflight(clients, REGION, Target(api_gateway_cloudwatch_role=False), HOST).run())
    assert alone["API Gateway logging role"].result == Result.FAIL
    assert "no longer exists" in alone["API Gateway logging role"].detail
    # When the stack sets the role itself, an existing setting is only a warning: it will be replaced.
    clients = clients_with(**{"lambda": lambda_answers()})
    replacing = by_name(Preflight(clients, REGION, Target(), HOST).run())["API Gateway logging role"]
    assert replacing.result == Result.WARN and "api_gateway_cloudwatch_role to false" in replacing.fix


def test_a_layer_missing_from_the_region_and_an_old_bootstrap_fail_with_their_fixes(account):
    bootstrap(version="5")
    clients = clients_with(**{"lambda": lambda_answers(layer="AccessDeniedException")})
    found = by_name(Preflight(clients, REGION, Target(), HOST).run())
    assert (
        found["Web Adapter layer"].result == Result.FAIL and "web_adapter_layer_arn" in found["Web Adapter layer"].fix
    )
    assert found["CDK bootstrap"].result == Result.FAIL and "bootstrap version 5" in found["CDK bootstrap"].detail


def test_a_failed_first_deploy_must_be_deleted_before_the_next(account):
    cfn = stubbed(
        "cloudformation",
        [
            (
                "describe_stacks",
                {
                    "Stacks": [
                        {"StackName": "CDKToolkit", "StackStatus": "CREATE_COMPLETE", "CreationTime": "2026-01-01"}
                    ]
                },
                {"StackName": "CDKToolkit"},
            ),
            (
                "describe_stacks",
                {
                    "Stacks": [
                        {
                            "StackName": "asyncinfer-prod",
                            "StackStatus": "ROLLBACK_COMPLETE",
                            "CreationTime": "2026-01-01",
                        }
                    ]
                },
                {"StackName": "asyncinfer-prod"},
            ),
        ],
    )
    boto3.client("ssm", region_name=REGION).put_parameter(Name=BOOTSTRAP_VERSION_PARAMETER, Value="28", Type="String")
    found = by_name(
        Preflight(clients_with(cloudformation=cfn, **{"lambda": lambda_answers()}), REGION, Target(), HOST).run()
    )
    assert found["stack"].result == Result.FAIL
    assert "delete-stack --stack-name asyncinfer-prod" in found["stack"].fix


def test_without_credentials_or_region_it_stops_at_the_first_line():
    class NoCredentials:
        def get_caller_identity(self):
            raise NoCredentialsError()

    checks = Preflight(lambda service, region=None: NoCredentials(), "eu-west-1", Target()).run()
    assert [(c.name, c.result) for c in checks] == [("region", Result.OK), ("credentials", Result.FAIL)]
    assert "aws configure" in checks[-1].fix
    (no_region,) = Preflight(lambda service, region=None: NoCredentials(), None, Target()).run()
    assert no_region.name == "region" and "AWS_REGION" in no_region.fix


def test_the_cli_checks_what_cdk_json_and_its_registry_will_deploy(account, tmp_path, monkeypatch, capsys):
    registry = {
        "version": 1,
        "providers": {
            "br": {"type": "bedrock", "region": "us-east-1"},
            "oa": {
                "type": "openai",
                "base_url": "https://api.example.com/v1",
                "api_key": {"secret_arn": f"arn:aws:secretsmanager:{REGION}:123456789012:secret:oa-AbCdEf"},
            },
        },
        "models": {
            "nova": {"provider": "br", "upstream": NOVA, "kind": "chat"},
            "gpt": {"provider": "oa", "upstream": "gpt-x", "kind": "chat"},
        },
    }
    (tmp_path / "models.json").write_text(json.dumps(registry))
    cdk = json.loads((ROOT / "cdk.json").read_text())
    cdk["context"]["asyncinfer"].update(
        models_file=str(tmp_path / "models.json"), stage="team", architecture="x86_64", worker_max_concurrency=30
    )
    (tmp_path / "cdk.json").write_text(json.dumps(cdk))
    target = cli.deployment_target(tmp_path)
    assert (target.stage, target.architecture) == ("team", "x86_64")
    assert target.runner_reserved_concurrency is None  # cdk.json reserves none for the runner by default
    assert target.bedrock_models == ((NOVA, "us-east-1"),)
    assert target.secret_arns == (registry["providers"]["oa"]["api_key"]["secret_arn"],)

    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    real_client = boto3.session.Session.client
    x86_layer = LAYER.replace("Arm64", "X86")
    stubs = {
        "lambda": stubbed(
            "lambda",
            [
                (
                    "get_layer_version_by_arn",
                    {"LayerVersionArn": x86_layer, "CompatibleArchitectures": ["x86_64"]},
                    {"Arn": x86_layer},
                ),
                ("get_account_settings", {"AccountLimit": {"ConcurrentExecutions": 1000}}, {}),
            ],
        ),
        "bedrock": stubbed(
            "bedrock",
            [
                ("get_foundation_model_availability", AVAILABLE, {"modelId": NOVA}),
                ("get_foundation_model", ACTIVE, {"modelIdentifier": NOVA}),
            ],
        ),
        "xray": stubbed("xray", [("get_trace_segment_destination", {"Destination": "XRay", "Status": "ACTIVE"}, {})]),
    }
    monkeypatch.setattr(
        boto3.session.Session,
        "client",
        lambda self, service, **kw: stubs.get(service) or real_client(self, service, **kw),
    )
    assert cli.main(["preflight", "--project", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "✓ Web Adapter layer: " + x86_layer in out
    assert f"✓ Bedrock {NOVA}: available in us-east-1" in out
    assert f"✓ Bedrock {NOVA} lifecycle: ACTIVE" in out
    # The stack synthesized from that cdk.json: the worker's four event sources (30 + 10 + 5 + 5), the batch
    # function's and the webhook sender's (5 each).
    assert (
        "✓ Lambda concurrency: 1000 concurrent executions in the account; the stack's event sources and "
        "reservations take at most 60 (worker 50, batch 5, webhook_sender 5), leaving 940 to " in out
    )
    assert "✗ secret oa-AbCdEf:" in out and "✗ CDK bootstrap" in out
    assert "asyncinfer-team does not exist yet" in out
    # cdk.json traces by default, and this account keeps no spans yet.
    assert "! tracing (Transaction Search): off: segments go to XRay" in out


def test_make_preflight_and_make_smoke_run_the_cli():
    dry = subprocess.run(
        ["make", "-n", "preflight", "smoke", "URL=http://127.0.0.1:1", "KEY=k"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert ".venv/bin/asyncinfer preflight" in dry
    assert ".venv/bin/asyncinfer smoke --url http://127.0.0.1:1 --key k" in dry


def test_a_region_without_durable_functions_is_told_to_turn_long_tasks_off(account):
    clients = clients_with(**{"lambda": lambda_answers(durable="UnknownOperationException")})
    found = by_name(Preflight(clients, REGION, Target(), HOST).run())
    check = found["long tasks (durable functions)"]
    assert check.result == Result.FAIL
    assert '"long_tasks": false' in check.fix
    off = by_name(Preflight(clients_with(**{"lambda": lambda_answers()}), REGION, Target(long_tasks=False), HOST).run())
    assert off["long tasks (durable functions)"].result == Result.OK


@pytest.mark.parametrize(
    ("answer", "result", "detail"),
    [
        ({"Destination": "XRay", "Status": "ACTIVE"}, Result.WARN, "off: segments go to XRay"),
        ({"Destination": "CloudWatchLogs", "Status": "PENDING"}, Result.WARN, "being turned on (PENDING)"),
        ({"Destination": "CloudWatchLogs", "Status": "ACTIVE"}, Result.OK, "on: spans land in the log group aws/spans"),
        ("AccessDeniedException", Result.WARN, "the trace destination cannot be read here (AccessDeniedException)"),
    ],
)
def test_tracing_asks_whether_the_account_keeps_spans(account, answer, result, detail):
    xray = stubbed("xray", [("get_trace_segment_destination", answer, {})])
    checks = Preflight(
        clients_with(xray=xray, **{"lambda": lambda_answers()}), REGION, Target(tracing=True, demand=DEMAND), HOST
    ).run()
    check = by_name(checks)["tracing (Transaction Search)"]
    assert (check.result, check.detail.startswith(detail)) == (result, True), check
    if result == Result.WARN and "PENDING" not in detail:
        assert "update-trace-segment-destination --destination CloudWatchLogs" in check.fix
    assert "tracing (Transaction Search)" not in by_name(
        Preflight(clients_with(**{"lambda": lambda_answers()}), REGION, Target(demand=DEMAND), HOST).run()
    )
