"""Provider-native batch jobs in the stack (infra/components/batch_jobs.py): with a Bedrock model that has batch
jobs, a service role trusted by Bedrock from this account's jobs only, which reads and writes the parts' objects
only, and the runner's rights to create, read and stop jobs and to pass that role to Bedrock alone. Synthesized
with every cdk-nag check (a finding fails the synth)."""

import json

import pytest

from asyncinfer.routes import HANDLERS
from tests.infra.conftest import synthesize
from tests.infra.helpers import as_list, functions_by_handler, of_type, policy_statements_of

pytestmark = pytest.mark.infra

REGISTRY = {
    "version": 1,
    "providers": {"bedrock": {"type": "bedrock"}},
    "models": {
        "haiku": {
            "provider": "bedrock",
            "upstream": "anthropic.claude-3-5-haiku-20241022-v1:0",
            "kind": "chat",
            "prices": {"input_per_million": 0.8, "output_per_million": 4},
            "batch": {"api": "bedrock", "min_records": 100, "max_records": 50000},
            "batch_prices": {"input_per_million": 0.4, "output_per_million": 2},
        }
    },
}


@pytest.fixture(scope="module")
def batched(tmp_path_factory):
    registry = tmp_path_factory.mktemp("registry") / "models.json"
    registry.write_text(json.dumps(REGISTRY))
    return synthesize(models_file=str(registry))[1].to_json()["Resources"]


def runner_of(resources):
    return functions_by_handler(resources)[HANDLERS["runner"]]


def test_bedrock_runs_the_jobs_as_a_role_of_its_own_trusted_from_this_accounts_jobs_only(batched):
    (role,) = [
        r
        for r in of_type(batched, "AWS::IAM::Role").values()
        if any(
            s["Principal"].get("Service") == "bedrock.amazonaws.com" for s in r["AssumeRolePolicyDocument"]["Statement"]
        )
    ]
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert set(trust["Condition"]) == {"StringEquals", "ArnLike"}
    assert "aws:SourceAccount" in trust["Condition"]["StringEquals"]
    assert "model-invocation-job/*" in json.dumps(trust["Condition"]["ArnLike"]["aws:SourceArn"])
    role_id = next(k for k, r in batched.items() if r["Type"] == "AWS::IAM::Role" and r["Properties"] is role)
    own = [
        s
        for p in of_type(batched, "AWS::IAM::Policy").values()
        if {"Ref": role_id} in p["Roles"]
        for s in p["PolicyDocument"]["Statement"]
    ]
    assert own
    actions = {a for s in own for a in as_list(s["Action"])}
    assert actions == {"s3:GetObject", "s3:PutObject", "s3:ListBucket"}, "the parts' objects, nothing else"
    assert all("batches/*/upstream/*" in json.dumps(s["Resource"]) for s in own if s["Action"] != "s3:ListBucket")


def test_the_runner_creates_reads_and_stops_jobs_and_passes_the_role_to_bedrock_only(batched):
    runner_id, runner = runner_of(batched)
    statements = policy_statements_of(batched, runner_id)
    jobs = [s for s in statements if "bedrock:CreateModelInvocationJob" in as_list(s["Action"])]
    assert len(jobs) == 1
    assert set(as_list(jobs[0]["Action"])) == {
        "bedrock:CreateModelInvocationJob",
        "bedrock:GetModelInvocationJob",
        "bedrock:StopModelInvocationJob",
    }
    assert "model-invocation-job/*" in json.dumps(jobs[0]["Resource"])
    (passing,) = [s for s in statements if "iam:PassRole" in as_list(s["Action"])]
    assert passing["Condition"] == {"StringEquals": {"iam:PassedToService": "bedrock.amazonaws.com"}}
    assert "ASYNCINFER_BATCH_ROLE_ARN" in runner["Environment"]["Variables"]


def test_without_a_bedrock_batch_model_there_is_no_role_and_no_bedrock_job_rights(resources):
    """The shipped registry: its demo batch models use the local stand-ins."""
    runner_id, runner = runner_of(resources)
    actions = {a for s in policy_statements_of(resources, runner_id) for a in as_list(s["Action"])}
    assert "bedrock:CreateModelInvocationJob" not in actions and "iam:PassRole" not in actions
    assert "dynamodb:BatchGetItem" in actions, "a part's items, read 100 at a time"
    assert "ASYNCINFER_BATCH_ROLE_ARN" not in runner["Environment"]["Variables"]
