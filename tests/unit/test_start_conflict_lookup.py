"""A start conflict is resolved to the execution that has the task's name, whichever version runs it: the
listing asks for the function's executions without a qualifier (every version), then on the qualifier the
runner is started on; only the exact name counts, on any page. botocore's Stubber answers as Lambda would."""

from __future__ import annotations

import boto3
import pytest
from botocore.stub import Stubber

from asyncinfer.executions.lambda_durable import LambdaDurableExecutions, payload

FUNCTION = "arn:aws:lambda:us-east-1:123456789012:function:asyncinfer-runner"
TASK = "0194a1b2c3d4e5f6a7b8c9d0e1f2a3b4"


def execution(name: str, version: str = "7") -> dict:
    return {
        "DurableExecutionArn": f"{FUNCTION}:{version}/durable-execution/{name}/{name[:8]}",
        "DurableExecutionName": name,
        "FunctionArn": f"{FUNCTION}:{version}",
        "Status": "RUNNING",
        "StartTimestamp": "2026-12-06T09:00:00Z",
    }


@pytest.fixture
def lambda_client():
    client = boto3.client("lambda", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(client) as stub:
        yield client, stub
        stub.assert_no_pending_responses()


def conflict(stub: Stubber, started_on: str) -> None:
    expected = {
        "FunctionName": started_on,
        "InvocationType": "Event",
        "DurableExecutionName": TASK,
        "Payload": payload("acme", TASK),
    }
    stub.add_client_error(
        "invoke", "DurableExecutionAlreadyStartedException", http_status_code=409, expected_params=expected
    )


def test_the_exact_name_is_found_on_a_later_page_of_every_version(lambda_client):
    client, stub = lambda_client
    conflict(stub, f"{FUNCTION}:live")
    listing = {"FunctionName": FUNCTION, "DurableExecutionName": TASK}
    stub.add_response(
        "list_durable_executions_by_function",
        {"DurableExecutions": [execution(TASK + "-retry")], "NextMarker": "page-2"},
        listing,
    )
    stub.add_response(
        "list_durable_executions_by_function",
        {"DurableExecutions": [execution(TASK, version="6")]},
        {**listing, "Marker": "page-2"},
    )
    found = LambdaDurableExecutions(client, f"{FUNCTION}:live").start("acme", TASK)
    assert found == execution(TASK, version="6")["DurableExecutionArn"], "the older version's execution, by exact name"


def test_the_qualifier_the_runner_is_started_on_is_asked_when_every_version_shows_none(lambda_client):
    client, stub = lambda_client
    conflict(stub, f"{FUNCTION}:live")
    listing = {"FunctionName": FUNCTION, "DurableExecutionName": TASK}
    stub.add_response("list_durable_executions_by_function", {"DurableExecutions": []}, listing)
    stub.add_response(
        "list_durable_executions_by_function",
        {"DurableExecutions": [execution(TASK)]},
        {**listing, "Qualifier": "live"},
    )
    assert (
        LambdaDurableExecutions(client, f"{FUNCTION}:live").start("acme", TASK)
        == execution(TASK)["DurableExecutionArn"]
    )


def test_an_unqualified_runner_is_listed_by_its_whole_arn_once(lambda_client):
    client, stub = lambda_client
    conflict(stub, FUNCTION)
    listing = {"FunctionName": FUNCTION, "DurableExecutionName": TASK}
    stub.add_response("list_durable_executions_by_function", {"DurableExecutions": []}, listing)
    assert LambdaDurableExecutions(client, FUNCTION).start("acme", TASK) == ""
