"""Scenarios that make each function take its paths, each held to its role on its own: every AWS call the
real handler makes (its sample event; deadlines, a queued task's stream; a budgeted tenant's writes; a long task
with a start conflict and a cancel, under the local durable front) is allowed by the role the synthesized stack
gives that function, on the resource the call names (tests/infra/iam.py), and each write to the table passes the
role's denials (dynamodb:LeadingKeys, dynamodb:Attributes). test_iam_coverage holds every call of the whole run
to the same rule; these name the paths that must be covered, so a run of this file alone covers them."""

from __future__ import annotations

from decimal import Decimal

import pytest

from asyncinfer.domain.budgets import Budget
from asyncinfer.domain.model import now_ms
from tests.conftest import load_event
from tests.infra.iam import refusals
from tests.integration.conftest import aws  # noqa: F401  (the emulator fixture)
from tests.integration.test_budgets import priced  # noqa: F401  (a registry with prices)
from tests.integration.test_sample_events import SAMPLE_EVENTS, check_sample_event, handler_for, through_web_adapter
from tests.integration.test_start_conflict import durable_runner, start_elsewhere, submit_slow_research  # noqa: F401
from tests.support.aws_calls import Recorder

pytestmark = [pytest.mark.infra, pytest.mark.integration]


def assert_granted(calls: Recorder, resources) -> None:
    assert refusals(resources, *calls.snapshot()) == [], "calls the deployed roles would refuse"


def made_by(calls: Recorder) -> set[str]:
    return {call.function for call in calls.snapshot()[0]}


@pytest.mark.parametrize("name", SAMPLE_EVENTS)
def test_the_calls_of_each_sample_event_are_granted_to_its_function(aws, aws_calls, resources, name):  # noqa: F811
    check_sample_event(aws, name, through_web_adapter)
    if handler_for(name) != "api_docs":  # the one function that calls nothing
        assert handler_for(name) in made_by(aws_calls), "the handler's calls were recorded"
    assert_granted(aws_calls, resources)


def test_the_calls_of_paths_the_samples_do_not_take_are_granted(aws, aws_calls, resources, monkeypatch):  # noqa: F811
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
    assert through_web_adapter(aws_event_for_stream(task["id"])).status_code == 200
    aws.run_worker()
    assert {"api_async", "sweeper", "stream", "worker"} <= made_by(aws_calls)
    assert {"api_async", "stream", "worker"} <= {write.function for write in aws_calls.writes}
    assert_granted(aws_calls, resources)


def test_the_writes_of_a_budgeted_tenant_are_granted(priced, aws_calls, resources):  # noqa: F811
    """With a budget, a submit reserves in the tenant's usage partition, and a cancel and a completion settle
    there: the API functions' writes beside the budget item, which they may not touch."""
    emulator = priced
    emulator.store.set_budget("acme", Budget(daily=Decimal(5), monthly=Decimal(50)), at=now_ms())
    body = {"model": "priced-chat", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 50}
    (status, cancelled), (status_2, completed) = (emulator.api("POST", "/v1/async", body=body) for _ in range(2))
    assert status == status_2 == 200, (cancelled, completed)
    assert emulator.api("POST", f"/v1/async/{cancelled['id']}/cancel")[0] == 200
    emulator.run_worker()
    api_usage = {(w.function, w.action) for w in aws_calls.writes if w.partition == "usage#acme"}
    assert ("api_async", "dynamodb:UpdateItem") in api_usage, "the reservations and the cancel's settlement"
    assert ("worker", "dynamodb:UpdateItem") in api_usage, "the completion's settlement"
    assert_granted(aws_calls, resources)


def test_the_calls_of_long_tasks_are_granted_a_start_conflict_and_a_cancel_included(
    durable_runner,  # noqa: F811
    aws_calls,
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
    made = {(call.function, call.action) for call in aws_calls.snapshot()[0]}
    assert {
        ("worker", "lambda:InvokeFunction"),
        ("worker", "lambda:ListDurableExecutionsByFunction"),
        ("runner", "lambda:CheckpointDurableExecution"),
        ("api_async", "lambda:StopDurableExecution"),
    } <= made
    assert_granted(aws_calls, resources)


def aws_event_for_stream(task_id: str) -> dict:
    event = load_event("stream_async_events")
    event["path"] = f"/v1/async/{task_id}/events"
    event["pathParameters"] = {"id": task_id}
    return event
