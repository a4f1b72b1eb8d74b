"""A start conflict: the task's execution name was already started with another payload (another deployment of
the runner started it), which Lambda refuses with DurableExecutionAlreadyStartedException. The local durable
front answers as Lambda does, and the worker follows the execution already running instead of failing."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from asyncinfer.domain.model import TaskStatus
from asyncinfer.executions.lambda_durable import payload
from tests.support.durable import RUNNER_ARN, DurableRuntime


@pytest.fixture
def durable_runner(aws, monkeypatch):
    monkeypatch.setenv("ASYNCINFER_RUNNER_FUNCTION_ARN", RUNNER_ARN)
    monkeypatch.setenv("ASYNCINFER_DEMO_RESEARCH_STEP_SECONDS", "0")
    monkeypatch.setenv("ASYNCINFER_DEMO_RESEARCH_TOOL_SECONDS", "0")
    with DurableRuntime(lambda event: aws.functions.invoke("runner", event)) as durable:
        yield aws, durable


def submit_slow_research(aws) -> tuple[str, str]:
    """A long task that runs for seconds (its execution is still running when the worker comes to it): its
    public id and its id."""
    body = {
        "model": "demo-deep-research",
        "messages": [{"role": "user", "content": "Why is the sky blue?"}],
        "demo_research": {"steps": 50, "step_seconds": 0.2},
    }
    status, task = aws.api("POST", "/v1/async", body=body)
    assert status == 200, task
    return task["id"], task["id"].removeprefix("task_").replace("-", "")


def start_elsewhere(durable, task_id: str) -> str:
    """The task's execution as another deployment started it: the same meaning in other bytes."""
    other = json.dumps({"task_id": task_id, "tenant": "acme"}).encode()
    assert other != payload("acme", task_id)
    return durable.client().invoke(
        FunctionName=RUNNER_ARN, InvocationType="Event", DurableExecutionName=task_id, Payload=other
    )["DurableExecutionArn"]


def test_a_name_started_with_another_payload_is_refused_as_lambda_refuses_it(durable_runner):
    aws, durable = durable_runner
    _, task_id = submit_slow_research(aws)
    first = start_elsewhere(durable, task_id)
    with pytest.raises(ClientError) as refused:
        durable.client().invoke(
            FunctionName=RUNNER_ARN,
            InvocationType="Event",
            DurableExecutionName=task_id,
            Payload=payload("acme", task_id),
        )
    assert refused.value.response["Error"]["Code"] == "DurableExecutionAlreadyStartedException"
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 409
    again = json.dumps({"task_id": task_id, "tenant": "acme"}).encode()  # the very same payload: the same execution
    same = durable.client().invoke(
        FunctionName=RUNNER_ARN, InvocationType="Event", DurableExecutionName=task_id, Payload=again
    )
    assert same["DurableExecutionArn"] == first
    durable.client().stop_durable_execution(DurableExecutionArn=first)


def test_the_worker_follows_the_execution_another_deployment_started_and_a_cancel_stops_it(durable_runner):
    aws, durable = durable_runner
    public_id, task_id = submit_slow_research(aws)
    first = start_elsewhere(durable, task_id)
    aws.run_worker()
    task = aws.store.get("acme", task_id)
    assert task.execution_arn == first, "the conflict was resolved to the execution already running"
    assert aws.queue_depth() == 0, "the message was not retried towards the dead-letter queue"
    found = durable.client().list_durable_executions_by_function(
        FunctionName="asyncinfer-runner", DurableExecutionName=task_id
    )["DurableExecutions"]
    assert [e["DurableExecutionArn"] for e in found] == [first]
    status, cancelled = aws.api("POST", f"/v1/async/{public_id}/cancel")
    assert status == 200 and cancelled["status"] == "CANCELLED", cancelled
    assert durable.wait(first)["Status"] == "STOPPED"
    assert aws.store.get("acme", task_id).status == TaskStatus.CANCELLED
