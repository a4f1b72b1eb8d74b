"""What is deployed may do what the code does: every AWS call each function makes while its real handler
runs (its sample event, and the paths the samples do not take: deadlines, a queued task's stream) is
allowed by the IAM role the synthesized stack gives that function; a call to Lambda (the long-task runner's
starts, executions and checkpoints) also on its resource, the ARN it names, against the statements' resources.
A grant the code needs but the stack lacks fails here, not in an account (the stream function once could not
count on the queued index; the worker could not resolve a start conflict). Long tasks run under the local
durable front, a start conflict included (a name already started with another payload).
Each write to the table is also held to the role's denials, by the item's partition key and the attributes
the request names (dynamodb:LeadingKeys, dynamodb:Attributes)."""

from __future__ import annotations

import contextvars
import fnmatch
import json
import re
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import botocore.client
import pytest

from asyncinfer.domain.budgets import Budget
from asyncinfer.domain.model import now_ms
from asyncinfer.routes import HANDLERS
from infra.local.durable import ACCOUNT, RUNNER_NAME
from infra.local.functions import LocalFunctions
from tests.infra.helpers import actions_of, as_list, denied, functions_by_handler, policy_statements_of
from tests.infra.test_stack import index_grants
from tests.integration.conftest import aws  # noqa: F401  (the emulator fixture)
from tests.integration.test_budgets import priced  # noqa: F401  (a registry with prices)
from tests.integration.test_sample_events import SAMPLE_EVENTS, check_sample_event, handler_for, through_web_adapter
from tests.integration.test_start_conflict import durable_runner, start_elsewhere, submit_slow_research  # noqa: F401

pytestmark = [pytest.mark.infra, pytest.mark.integration]

CALLER: contextvars.ContextVar[str | None] = contextvars.ContextVar("caller", default=None)
# IAM's name for an API call, where it is not the service prefix and the operation's name.
IAM_ACTION = {
    ("s3", "HeadObject"): "s3:GetObject",
    ("s3", "ListObjectsV2"): "s3:ListBucket",
    ("s3", "DeleteObjects"): "s3:DeleteObject",
    ("lambda", "Invoke"): "lambda:InvokeFunction",
    # SQS's batch calls are allowed by the single call's action.
    ("sqs", "SendMessageBatch"): "sqs:SendMessage",
    ("sqs", "DeleteMessageBatch"): "sqs:DeleteMessage",
    ("sqs", "ChangeMessageVisibilityBatch"): "sqs:ChangeMessageVisibility",
}
REGION = "us-east-1"
PSEUDO = {"AWS::Region": REGION, "AWS::AccountId": ACCOUNT, "AWS::Partition": "aws", "AWS::URLSuffix": "amazonaws.com"}
# The local durable service names an execution by its ids alone; on AWS its ARN extends the runner version's.
LOCAL_EXECUTION = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{RUNNER_NAME}:1/durable-execution/"
# A transaction is allowed item by item (there is no IAM action for it).
TRANSACT = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem", "ConditionCheck": "ConditionCheckItem"}
WRITES = {"PutItem", "UpdateItem", "DeleteItem"}
# Words of DynamoDB's expressions that are not attribute names.
_NOT_NAMES = {"SET", "REMOVE", "ADD", "DELETE", "AND", "OR", "NOT", "BETWEEN", "IN", "if_not_exists", "list_append"}
_NOT_NAMES |= {"attribute_exists", "attribute_not_exists", "attribute_type", "begins_with", "contains", "size"}


class Calls(set):
    """(function, IAM action, index or None) of every AWS call; and of every write to the table, (function,
    IAM action, partition key, attribute names)."""

    writes: set[tuple[str, str, str, frozenset[str]]]
    targets: set[tuple[str, str, str]]  # (function, IAM action, the ARN it names) of each call to Lambda


def function_arn(name: str) -> str:
    return name if name.startswith("arn:") else f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"


def lambda_resource(params: dict) -> str:
    """The ARN a call to Lambda is authorized on: the execution's, or the function's (with its qualifier)."""
    if "DurableExecutionArn" in params:
        arn = params["DurableExecutionArn"]
        return arn if arn.startswith("arn:") else LOCAL_EXECUTION + arn
    arn = function_arn(params["FunctionName"])
    return f"{arn}:{params['Qualifier']}" if params.get("Qualifier") else arn


def named(request: dict) -> frozenset[str]:
    """The attributes a write names: its item's, and those of its expressions (more than IAM may count, never
    fewer), placeholders resolved."""
    names = set(request.get("Item", {})) | set(request.get("ExpressionAttributeNames", {}).values())
    for expression in (request.get("UpdateExpression", ""), request.get("ConditionExpression", "")):
        names |= {w for w in re.findall(r"(?<![:#\w])[A-Za-z_]\w*", expression) if w not in _NOT_NAMES}
    return frozenset(names)


def partition_of(request: dict) -> str:
    return (request.get("Item") or request["Key"])["pk"]["S"]


@pytest.fixture
def calls(monkeypatch):
    """(function, IAM action, index or None) of every AWS call made inside a handler."""
    made = Calls()
    made.writes = set()
    made.targets = set()
    make_api_call = botocore.client.BaseClient._make_api_call
    invoke = LocalFunctions.invoke
    submit = ThreadPoolExecutor.submit

    def recorded(client, operation, params):
        caller = CALLER.get()
        service = client.meta.service_model.endpoint_prefix
        if caller is not None:
            if operation == "TransactWriteItems":
                for item in params["TransactItems"]:
                    ((kind, request),) = item.items()
                    made.add((caller, f"dynamodb:{TRANSACT[kind]}", None))
                    if TRANSACT[kind] in WRITES:
                        made.writes.add((caller, f"dynamodb:{TRANSACT[kind]}", partition_of(request), named(request)))
            else:
                if service == "dynamodb" and operation in WRITES:
                    made.writes.add((caller, f"dynamodb:{operation}", partition_of(params), named(params)))
                action = IAM_ACTION.get((service, operation), f"{client.meta.service_model.signing_name}:{operation}")
                made.add((caller, action, params.get("IndexName") if service == "dynamodb" else None))
                if service == "lambda":
                    made.targets.add((caller, action, lambda_resource(params)))
        return make_api_call(client, operation, params)

    def invoked(self, name, event):
        token = CALLER.set(name)
        try:
            return invoke(self, name, event)
        finally:
            CALLER.reset(token)

    def in_context(self, fn, /, *args, **kwargs):  # a worker's tasks run in threads: they call as their function
        return submit(self, contextvars.copy_context().run, fn, *args, **kwargs)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", recorded)
    monkeypatch.setattr(LocalFunctions, "invoke", invoked)
    monkeypatch.setattr(ThreadPoolExecutor, "submit", in_context)
    return made


def as_stream(event: dict, base_url: str | None = None):
    token = CALLER.set("stream")
    try:
        return through_web_adapter(event, base_url)
    finally:
        CALLER.reset(token)


def allowed(resources, function: str, action: str, index: str | None) -> bool:
    logical_id, _ = functions_by_handler(resources)[HANDLERS[function]]
    if action.startswith("dynamodb:"):
        granted = index_grants(resources, logical_id).get(index or "table", set())
    else:
        granted = actions_of(policy_statements_of(resources, logical_id))
    return any(fnmatch.fnmatchcase(action, pattern) for pattern in granted)


def resolved(value, resources) -> str:
    """A statement's resource as the local stack names it (its functions are asyncinfer-<name>, as LocalFunctions
    and the local runner name them); what is not resolved here matches nothing."""
    if isinstance(value, str):
        return value
    if "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return separator.join(resolved(part, resources) for part in parts)
    if "Ref" in value and value["Ref"] in PSEUDO:
        return PSEUDO[value["Ref"]]
    if "Ref" in value or "Fn::GetAtt" in value:
        ref, attribute = (value["Ref"], "Ref") if "Ref" in value else value["Fn::GetAtt"]
        kind, properties = resources[ref]["Type"], resources[ref]["Properties"]
        if kind == "AWS::Lambda::Function" and attribute in ("Ref", "Arn"):
            name = {handler: function for function, handler in HANDLERS.items()}[properties["Handler"]]
            return f"asyncinfer-{name}" if attribute == "Ref" else function_arn(f"asyncinfer-{name}")
        if kind == "AWS::Lambda::Alias" and attribute == "Ref":
            return f"{function_arn(resolved(properties['FunctionName'], resources))}:{properties['Name']}"
    return f"<unresolved {json.dumps(value)}>"


def allowed_on(resources, function: str, action: str, arn: str) -> bool:
    statements = policy_statements_of(resources, functions_by_handler(resources)[HANDLERS[function]][0])
    return any(
        statement["Effect"] == "Allow"
        and any(fnmatch.fnmatchcase(action, pattern) for pattern in as_list(statement["Action"]))
        and any(fnmatch.fnmatchcase(arn, resolved(r, resources)) for r in as_list(statement["Resource"]))
        for statement in statements
    )


def assert_granted(calls, resources) -> None:
    made, targets = set(calls), set(calls.targets)  # a runner's invocation may still be recording
    refused = sorted(
        (function, action, index or "table") if action.startswith("dynamodb:") else (function, action)
        for function, action, index in made
        if not allowed(resources, function, action, index)
    )
    assert refused == [], "calls the deployed roles would refuse"
    elsewhere = sorted(target for target in targets if not allowed_on(resources, *target))
    assert elsewhere == [], "calls to Lambda the deployed roles would refuse on the resource they name"
    statements = {
        function: policy_statements_of(resources, functions_by_handler(resources)[HANDLERS[function]][0])
        for function in {write[0] for write in calls.writes}
    }
    denials = sorted(
        (function, action, partition, sorted(attributes))
        for function, action, partition, attributes in calls.writes
        if denied(statements[function], action, partition, attributes)
    )
    assert denials == [], "writes the deployed roles would deny"


@pytest.mark.parametrize("name", SAMPLE_EVENTS)
def test_the_calls_of_each_sample_event_are_granted_to_its_function(aws, calls, resources, name):  # noqa: F811
    check_sample_event(aws, name, as_stream)
    if handler_for(name) != "api_docs":  # the one function that calls nothing
        assert handler_for(name) in {function for function, _, _ in calls}, "the handler's calls were recorded"
    assert_granted(calls, resources)


def test_the_calls_of_paths_the_samples_do_not_take_are_granted(aws, calls, resources, monkeypatch):  # noqa: F811
    """A submit with a deadline (a transaction with its _due item), the deadline sweep, a queued task's
    stream (its place in line; it closes after a second, as one closes before the function's timeout), the
    worker's claim that fixes an end deadline."""
    monkeypatch.setenv("ASYNCINFER_MAX_STREAM_SECONDS", "1")
    body = {"model": "demo-chat", "messages": [{"role": "user", "content": "hi"}], "start_timeout": 60}
    status, task = aws.api("POST", "/v1/async", body=body)
    assert status == 200, task
    body = {**body, "execution_timeout": 60}
    assert aws.api("POST", "/v1/async", body=body)[0] == 200
    aws.functions.invoke("sweeper", {"deadlines": True})
    assert as_stream(aws_event_for_stream(task["id"]), None).status_code == 200
    aws.run_worker()
    assert {"api_async", "sweeper", "stream", "worker"} <= {function for function, _, _ in calls}
    assert {"api_async", "stream", "worker"} <= {function for function, *_ in calls.writes}
    assert_granted(calls, resources)


def test_the_writes_of_a_budgeted_tenant_are_granted(priced, calls, resources):  # noqa: F811
    """With a budget, a submit reserves in the tenant's usage partition, and a cancel and a completion settle
    there: the API functions' writes beside the budget item, which they may not touch."""
    emulator = priced
    emulator.store.set_budget("acme", Budget(daily=Decimal(5), monthly=Decimal(50)), at=now_ms())
    body = {"model": "priced-chat", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 50}
    (status, cancelled), (status_2, completed) = (emulator.api("POST", "/v1/async", body=body) for _ in range(2))
    assert status == status_2 == 200, (cancelled, completed)
    assert emulator.api("POST", f"/v1/async/{cancelled['id']}/cancel")[0] == 200
    emulator.run_worker()
    api_usage = {(f, action) for f, action, partition, _ in calls.writes if partition == "usage#acme"}
    assert ("api_async", "dynamodb:UpdateItem") in api_usage, "the reservations and the cancel's settlement"
    assert ("worker", "dynamodb:UpdateItem") in api_usage, "the completion's settlement"
    assert_granted(calls, resources)


def test_the_calls_of_long_tasks_are_granted_a_start_conflict_and_a_cancel_included(
    durable_runner,  # noqa: F811
    calls,
    resources,
):
    """The worker starts the runner (Invoke of its alias); a start conflict makes it look the execution up by
    name; the runner checkpoints; a cancel stops the execution."""
    emulator, durable = durable_runner
    public_id, task_id = submit_slow_research(emulator)
    first = start_elsewhere(durable, task_id)
    emulator.run_worker()
    assert emulator.store.get("acme", task_id).execution_arn == first
    assert emulator.api("POST", f"/v1/async/{public_id}/cancel")[0] == 200
    assert durable.wait(first)["Status"] == "STOPPED"
    made = {(function, action) for function, action, _ in set(calls)}
    assert {
        ("worker", "lambda:InvokeFunction"),
        ("worker", "lambda:ListDurableExecutionsByFunction"),
        ("runner", "lambda:CheckpointDurableExecution"),
        ("api_async", "lambda:StopDurableExecution"),
    } <= made
    assert_granted(calls, resources)


def aws_event_for_stream(task_id: str) -> dict:
    from tests.conftest import load_event

    event = load_event("stream_async_events")
    event["path"] = f"/v1/async/{task_id}/events"
    event["pathParameters"] = {"id": task_id}
    return event
