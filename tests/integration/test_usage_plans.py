"""Per-tenant throttling on AWS: each tenant's key in the API Gateway usage plan, handed to API Gateway
by the authorizer (API key source AUTHORIZER). The plan is moto's, the calls are boto3's."""

import re

import boto3
import pytest

from asyncinfer.cli import main as cli
from asyncinfer.handlers import authorizer
from asyncinfer.tasks.keys import hash_key
from infra.local.functions import LocalContext

pytestmark = pytest.mark.integration


@pytest.fixture
def plan(aws):
    apigw = boto3.client("apigateway")
    plan_id = apigw.create_usage_plan(name="asyncinfer-prod", throttle={"rateLimit": 20.0, "burstLimit": 40})["id"]
    return apigw, plan_id


def create(aws, capsys, tenant: str, plan_id: str) -> str:
    args = ["keys", "create", "--tenant", tenant, "--table", aws.resources.table_name, "--usage-plan", plan_id]
    assert cli(args) == 0
    return capsys.readouterr().out.strip()


def test_each_tenant_has_one_key_in_the_plan_that_all_its_api_keys_share(aws, plan, capsys):
    apigw, plan_id = plan
    first, second = create(aws, capsys, "acme", plan_id), create(aws, capsys, "acme", plan_id)
    other = create(aws, capsys, "globex", plan_id)
    records = [aws.store.get_api_key(hash_key(k)) for k in (first, second, other)]
    assert records[0].usage_key and records[0].usage_key == records[1].usage_key != records[2].usage_key
    in_plan = apigw.get_usage_plan_keys(usagePlanId=plan_id)["items"]
    assert sorted(k["value"] for k in in_plan) == sorted({r.usage_key for r in records})
    # API Gateway's rule for key values: alphanumeric, 20 to 128 characters.
    assert all(re.fullmatch(r"[A-Za-z0-9]{20,128}", k["value"]) for k in in_plan)
    assert {k["name"] for k in in_plan} == {f"asyncinfer-{plan_id}-acme", f"asyncinfer-{plan_id}-globex"}
    # The client's key is not the gateway key: API Gateway never sees what clients send as a usage key.
    assert first not in {k["value"] for k in in_plan}


def test_the_authorizer_hands_the_tenants_usage_key_to_api_gateway(aws, plan, capsys, event):
    _, plan_id = plan
    key = create(aws, capsys, "acme", plan_id)
    request = event("authorizer_request")
    request["headers"]["Authorization"] = f"Bearer {key}"
    policy = authorizer.lambda_handler(request, LocalContext("authorizer", 5))
    assert policy["usageIdentifierKey"] == aws.store.get_api_key(hash_key(key)).usage_key
    assert policy["context"] == {"tenant": "acme"}


def test_without_a_plan_the_authorizer_names_no_usage_key(aws, capsys, event):
    assert cli(["keys", "create", "--tenant", "acme", "--table", aws.resources.table_name]) == 0
    request = event("authorizer_request")
    request["headers"]["Authorization"] = f"Bearer {capsys.readouterr().out.strip()}"
    assert "usageIdentifierKey" not in authorizer.lambda_handler(request, LocalContext("authorizer", 5))
