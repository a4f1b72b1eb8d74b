"""cdk.json context reaches the resources, and bad configuration fails before anything is built."""

import json
import os
import stat
from pathlib import Path

import pytest
from pydantic import ValidationError

from asyncinfer.routes import HANDLERS
from infra.bundling import LocalPipBundling
from infra.config import InfraConfig
from tests.infra.conftest import synthesize
from tests.infra.helpers import actions_of, functions_by_handler, of_type, policy_statements_of, queue_id

pytestmark = pytest.mark.infra

SECRETS = [
    "arn:aws:secretsmanager:eu-west-1:123456789012:secret:asyncinfer/openai-AbCdEf",
    "arn:aws:secretsmanager:eu-west-1:123456789012:secret:asyncinfer/bedrock-GhIjKl",
]


REGISTRY_SECRET = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:asyncinfer/compat-MnOpQr"
REGISTRY = {
    "version": 1,
    "providers": {
        "compat": {
            "type": "openai",
            "base_url": "https://llm.example.com/v1",
            "api_key": {"secret_arn": REGISTRY_SECRET},
        },
        "bedrock": {"type": "bedrock", "region": "us-west-2"},
    },
    "models": {
        "claude": {"provider": "bedrock", "upstream": "anthropic.claude-3-5-haiku-20241022-v1:0", "kind": "chat"},
        "claude-xr": {"provider": "bedrock", "upstream": "us.anthropic.claude-sonnet-4-v1:0", "kind": "chat"},
        "canvas": {"provider": "bedrock", "upstream": "amazon.nova-canvas-v1:0", "kind": "image"},
        "reel": {"provider": "bedrock", "upstream": "amazon.nova-reel-v1:0", "kind": "video", "runs": "durable"},
        "house": {"provider": "compat", "upstream": "llama", "kind": "chat"},
    },
}


@pytest.fixture(scope="module")
def staging(tmp_path_factory):
    registry = tmp_path_factory.mktemp("registry") / "models.json"
    registry.write_text(json.dumps(REGISTRY))
    stack, template = synthesize(
        stage="staging",
        provider_secret_arns=SECRETS,
        models_file=str(registry),
        worker_batch_size=4,
        mcp_allowed_hosts=["tools.internal", "10.20.0.0/16"],
        webhook_allowed_hosts=["hooks.internal"],
        worker_batching_window_seconds=2,
        worker_max_concurrency=7,
        retention_days=9,
        architecture="x86_64",
        max_inflight_tasks=25,
        submits_per_minute=0,
        sweep_every_minutes=2,
        orphan_after_seconds=120,
        tenant_rate_limit=5,
        tenant_burst_limit=10,
        tenant_daily_quota=10000,
    )
    return stack, template.to_json()["Resources"]


def test_context_reaches_the_stage_the_worker_and_the_retention(staging):
    stack, resources = staging
    assert stack.stack_name == "asyncinfer-staging"
    (stage,) = of_type(resources, "AWS::ApiGateway::Stage").values()
    assert stage["StageName"] == "staging"
    worker_id = functions_by_handler(resources)[HANDLERS["worker"]][0]
    (mapping,) = [
        m
        for m in of_type(resources, "AWS::Lambda::EventSourceMapping").values()
        if m["FunctionName"] == {"Ref": worker_id}
        and m["EventSourceArn"] == {"Fn::GetAtt": [queue_id(resources, "Tasks"), "Arn"]}
    ]
    assert mapping["BatchSize"] == 4
    assert mapping["MaximumBatchingWindowInSeconds"] == 2
    assert mapping["ScalingConfig"] == {"MaximumConcurrency": 7}
    assert all(f["Architectures"] == ["x86_64"] for f in of_type(resources, "AWS::Lambda::Function").values())
    stream = functions_by_handler(resources)[HANDLERS["stream"]][1]
    assert "LambdaAdapterLayerX86:" in json.dumps(stream["Layers"])
    buckets = of_type(resources, "AWS::S3::Bucket").values()
    rules = [r for b in buckets for r in b.get("LifecycleConfiguration", {}).get("Rules", []) if "Prefix" in r]
    assert {r["ExpirationInDays"] for r in rules} == {10}


def test_quotas_and_the_sweep_follow_the_context(staging):
    _, resources = staging
    env = functions_by_handler(resources)[HANDLERS["api_async"]][1]["Environment"]["Variables"]
    assert (env["ASYNCINFER_MAX_INFLIGHT_TASKS"], env["ASYNCINFER_SUBMITS_PER_WINDOW"]) == ("25", "0")
    sweeper = functions_by_handler(resources)[HANDLERS["sweeper"]][1]["Environment"]["Variables"]
    assert sweeper["ASYNCINFER_ORPHAN_AFTER_SECONDS"] == "120"
    rules = {rule["Description"]: rule for rule in of_type(resources, "AWS::Events::Rule").values()}
    orphans = rules["asyncinfer: re-send the messages of orphaned CREATED tasks"]
    assert orphans["ScheduleExpression"] == "rate(2 minutes)"
    # Deadlines every minute whatever the orphans' period, with an input that says so.
    deadlines = rules["asyncinfer: fail tasks past their deadlines"]
    assert deadlines["ScheduleExpression"] == "rate(1 minute)"
    (target,) = deadlines["Targets"]
    assert json.loads(target["Input"]) == {"deadlines": True}
    (plan,) = of_type(resources, "AWS::ApiGateway::UsagePlan").values()
    assert plan["Throttle"] == {"RateLimit": 5, "BurstLimit": 10}
    assert plan["Quota"] == {"Limit": 10000, "Period": "DAY"}


def test_provider_secrets_reach_the_task_runners_and_only_them(staging):
    """The worker and the long-task runner call model providers; nothing else reads their secrets."""
    _, resources = staging
    runners = {functions_by_handler(resources)[HANDLERS[name]][0] for name in ("worker", "runner")}
    for name in ("worker", "runner"):
        logical_id, props = functions_by_handler(resources)[HANDLERS[name]]
        assert json.loads(props["Environment"]["Variables"]["ASYNCINFER_MCP_ALLOWED_HOSTS"]) == [
            "tools.internal",
            "10.20.0.0/16",
        ]
        assert json.loads(props["Environment"]["Variables"]["ASYNCINFER_PROVIDER_SECRET_ARNS"]) == SECRETS
        reads = [
            s for s in policy_statements_of(resources, logical_id) if "secretsmanager:GetSecretValue" in actions_of([s])
        ]
        assert [s["Resource"] for s in reads] == [sorted([*SECRETS, REGISTRY_SECRET])]
    for handler, (logical_id, props) in functions_by_handler(resources).items():
        if logical_id not in runners:
            assert not any(
                a.startswith("secretsmanager:") for a in actions_of(policy_statements_of(resources, logical_id))
            )
            assert "ASYNCINFER_PROVIDER_SECRET_ARNS" not in props["Environment"]["Variables"], handler


def test_each_task_runner_may_invoke_exactly_the_registrys_bedrock_models_it_runs(staging):
    """The worker the models that run on it; the long-task runner the long ones (Nova Reel here), and it
    reads its async invocations."""
    _, resources = staging
    worker_id = functions_by_handler(resources)[HANDLERS["worker"]][0]
    runner_id = functions_by_handler(resources)[HANDLERS["runner"]][0]

    def invokes(logical_id):
        """Each of the function's Bedrock grants: its resources (as text) and its condition."""
        grants = []
        for statement in policy_statements_of(resources, logical_id):
            if "bedrock:InvokeModel" in actions_of([statement]):
                assert actions_of([statement]) == {"bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"}
                arns = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
                grants.append(([json.dumps(r) for r in arns], statement.get("Condition")))
        return grants

    [(direct, unconditioned), (routed, condition)] = sorted(invokes(worker_id), key=lambda g: g[1] is not None)
    assert unconditioned is None
    text = " ".join(direct)
    assert len(direct) == 3
    assert "us-west-2::foundation-model/anthropic.claude-3-5-haiku-20241022-v1:0" in text
    assert "us-west-2::foundation-model/amazon.nova-canvas-v1:0" in text
    [profile] = [arn for arn in direct if "inference-profile/us.anthropic.claude-sonnet-4-v1:0" in arn]
    assert "nova-reel" not in text and "bedrock:*:" not in text
    # The model in every region of the profile, but only through the profile, never called directly.
    assert routed == [json.dumps("arn:aws:bedrock:*::foundation-model/anthropic.claude-sonnet-4-v1:0")]
    assert condition == {"StringEquals": {"bedrock:InferenceProfileArn": json.loads(profile)}}
    [(direct, unconditioned)] = invokes(runner_id)
    assert unconditioned is None
    assert (len(direct), "us-west-2::foundation-model/amazon.nova-reel-v1:0" in direct[0]) == (1, True)
    (jobs,) = [s for s in policy_statements_of(resources, runner_id) if "bedrock:GetAsyncInvoke" in actions_of([s])]
    assert "async-invoke/*" in json.dumps(jobs["Resource"])
    for logical_id, _ in functions_by_handler(resources).values():
        if logical_id not in (worker_id, runner_id):
            assert not any(a.startswith("bedrock:") for a in actions_of(policy_statements_of(resources, logical_id)))


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"provider_secret_arns": ["arn:aws:s3:::not-a-secret"]}, "not a Secrets Manager secret ARN"),
        ({"models_file": "nowhere/models.json"}, "does not exist"),
        ({"stage": "Prod!"}, "pattern"),
        ({"max_receive_count": 9}, "less than or equal to 5"),
        ({"worker_batch_size": 1, "worker_batching_window_seconds": 5}, "batching window"),
        ({"surprise": 1}, "Extra inputs"),
    ],
)
def test_bad_configuration_fails_before_anything_is_built(overrides, message):
    with pytest.raises(ValidationError, match=message):
        InfraConfig.from_context(overrides)


def test_a_malformed_model_registry_fails_the_synth(tmp_path):
    bad = tmp_path / "models.json"
    bad.write_text(json.dumps({"version": 1, "models": {"x": {"provider": "nobody", "upstream": "x", "kind": "chat"}}}))
    with pytest.raises(ValidationError, match="provider"):
        InfraConfig.from_context({"models_file": str(bad)})


def test_bundling_ships_the_package_the_start_script_and_the_configured_registry(tmp_path, monkeypatch):
    registry = tmp_path / "mine.json"
    registry.write_text('{"version": 1, "models": {}}')
    installs = []
    monkeypatch.setattr("infra.wheels.subprocess.run", lambda args, check: installs.append(args))
    out = tmp_path / "asset"
    out.mkdir()
    assert LocalPipBundling("arm64", registry).try_bundle(str(out), image=None)
    (args,) = installs
    tags = [args[i + 1] for i, arg in enumerate(args) if arg == "--platform"]
    assert tags == ["manylinux_2_34_aarch64", "manylinux_2_28_aarch64", "manylinux2014_aarch64"]
    assert "--only-binary=:all:" in args
    # From the lock, every file's hash checked (boto3, starlette and uvicorn among its pins: test_lock).
    assert "--require-hashes" in args and "--no-deps" in args
    assert Path(args[args.index("-r") + 1]) == Path(__file__).resolve().parents[2] / "requirements" / "lambda.lock"
    assert (out / "asyncinfer" / "models.json").read_text() == registry.read_text()
    script = out / HANDLERS["stream"]
    assert os.stat(script).st_mode & stat.S_IXUSR
    assert not list(out.rglob("__pycache__"))


def test_the_outbound_allow_lists_reach_every_function_that_checks_a_client_url(staging):
    """Submits check literal addresses under the deployment's policy; the worker and the sender check
    again at each connection: all of them must see the same allow-lists."""
    _, resources = staging
    by_handler = functions_by_handler(resources)
    checking = ["worker", "webhook_sender", "api_async", "api_perplexity", "api_privategpt", "api_netmind", "batch"]
    for name in checking:
        env = by_handler[HANDLERS[name]][1]["Environment"]["Variables"]
        assert json.loads(env["ASYNCINFER_MCP_ALLOWED_HOSTS"]) == ["tools.internal", "10.20.0.0/16"], name
        assert json.loads(env["ASYNCINFER_WEBHOOK_ALLOWED_HOSTS"]) == ["hooks.internal"], name
