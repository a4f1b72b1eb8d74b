"""The coverage check's own rule (tests/infra/iam.py) refuses what a role does not allow: a call on another
resource than the one granted, an index the role may not read, another alias of the runner; and a request's
parameters become the resource IAM authorizes it on (tests/support/iam_actions.py)."""

from __future__ import annotations

import pytest

from tests.infra.iam import allowed, refusals
from tests.support.aws_calls import Call
from tests.support.iam_actions import ACCOUNT, authorizations, function_arn

pytestmark = pytest.mark.infra

TABLE = f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/asyncinfer-dev-tasks"
RUNNER = function_arn("asyncinfer-runner")


@pytest.mark.parametrize(
    ("call", "granted"),
    [
        (Call("sweeper", "dynamodb:Scan", f"{TABLE}/index/inflight"), True),
        (Call("sweeper", "dynamodb:Scan", TABLE), False),  # the in-flight index only
        (Call("sweeper", "dynamodb:Scan", f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/other-tasks-x"), False),
        (Call("worker", "lambda:InvokeFunction", f"{RUNNER}:live"), True),
        (Call("worker", "lambda:InvokeFunction", f"{RUNNER}:7"), False),  # the alias, not a version
        (Call("worker", "lambda:ListDurableExecutionsByFunction", RUNNER), True),
        (Call("worker", "lambda:ListDurableExecutionsByFunction", f"{RUNNER}:live"), True),
        (Call("worker", "lambda:ListDurableExecutionsByFunction", f"{RUNNER}:old"), False),
        (Call("worker", "lambda:ListDurableExecutionsByFunction", function_arn("asyncinfer-worker")), False),
        (Call("api_async", "lambda:StopDurableExecution", f"{RUNNER}:3/durable-execution/t/1"), True),
        (Call("stream", "lambda:StopDurableExecution", f"{RUNNER}:3/durable-execution/t/1"), False),
        (Call("worker", "sqs:SendMessage", f"arn:aws:sqs:us-east-1:{ACCOUNT}:asyncinfer-dev-tasks-flex"), True),
        (Call("worker", "sqs:SendMessage", f"arn:aws:sqs:us-east-1:{ACCOUNT}:asyncinfer-dev-webhooks"), False),
    ],
)
def test_a_call_is_allowed_only_on_what_its_role_names(resources, call, granted):
    assert allowed(resources, call) is granted
    assert (refusals(resources, {call}, set()) == []) is granted


def test_a_request_is_authorized_on_the_resource_it_names():
    assert authorizations(
        "lambda",
        "lambda",
        "ListDurableExecutionsByFunction",
        {"FunctionName": "asyncinfer-runner", "Qualifier": "live", "DurableExecutionName": "t"},
        "us-east-1",
    ) == [("lambda:ListDurableExecutionsByFunction", f"{RUNNER}:live")]
    assert authorizations(
        "dynamodb", "dynamodb", "Query", {"TableName": "asyncinfer-dev-tasks", "IndexName": "inflight"}, "us-east-1"
    ) == [("dynamodb:Query", f"{TABLE}/index/inflight")]
    assert authorizations("s3", "s3", "DeleteObjects", {"Bucket": "b", "Delete": {"Objects": [{"Key": "k"}]}}, "x") == [
        ("s3:DeleteObject", "arn:aws:s3:::b/k")
    ]
    assert authorizations(
        "sqs", "sqs", "SendMessageBatch", {"QueueUrl": "http://127.0.0.1:1/000000000000/q", "Entries": []}, "us-east-1"
    ) == [("sqs:SendMessage", f"arn:aws:sqs:us-east-1:{ACCOUNT}:q")]
