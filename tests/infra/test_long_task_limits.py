"""Long-task limits in the synthesized stack (issue 29): the worker is told each tenant's cap of long tasks and
may send a waiting task's message back to the queues it reads; the runner's reserved concurrency is a setting,
none by default (any account can deploy it)."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from asyncinfer.domain.model import TaskStatus
from asyncinfer.routes import HANDLERS
from infra.config import InfraConfig
from tests.infra.helpers import CONFIG, actions_of, functions_by_handler, of_type, policy_statements_of, queue_id
from tests.infra.test_permissions import assert_granted
from tests.integration.conftest import aws  # noqa: F401  (the emulator fixture)
from tests.integration.test_long_task_limits import capped
from tests.integration.test_long_tasks import hex_of, submit_research

pytestmark = pytest.mark.infra


def sources_of(resources, function_id: str) -> set[str]:
    return {
        json.dumps(m["EventSourceArn"])
        for m in of_type(resources, "AWS::Lambda::EventSourceMapping").values()
        if m["FunctionName"] == {"Ref": function_id}
    }


def test_the_worker_knows_the_cap_and_may_send_messages_again_to_exactly_the_queues_it_reads(resources):
    worker_id, worker = functions_by_handler(resources)[HANDLERS["worker"]]
    assert worker["Environment"]["Variables"]["ASYNCINFER_MAX_LONG_TASKS_PER_TENANT"] == str(
        CONFIG.max_long_tasks_per_tenant
    )
    sends = [s for s in policy_statements_of(resources, worker_id) if "sqs:SendMessage" in actions_of([s])]
    resends = {json.dumps(s["Resource"]) for s in sends}
    queues = {"Tasks", "PriorityTasks", "FlexTasks", "BatchItems"}
    assert resends == {json.dumps({"Fn::GetAtt": [queue_id(resources, q), "Arn"]}) for q in queues}
    assert resends == sources_of(resources, worker_id)  # back where it came from, nowhere else


@pytest.mark.integration
def test_the_calls_of_a_long_task_waiting_for_a_slot_are_granted(aws, aws_calls, resources, monkeypatch):  # noqa: F811
    """The worker's slot item updates, its holders' reads, the waiting task's mark and its message sent again."""
    with capped(aws, monkeypatch, cap=1):
        holder = submit_research(aws, "slow", steps=2, step_seconds=30)
        aws.run_queue("worker")
        waiter = submit_research(aws, "waits")
        aws.run_queue("worker")
        task = aws.store.get("acme", hex_of(waiter))
        assert (task.status, task.execution_arn) == (TaskStatus.CREATED, None) and task.requeued_at
        assert aws.api("POST", f"/v1/async/{holder}/cancel")[0] == 200
    calls, writes = aws_calls.snapshot()
    assert ("worker", "sqs:SendMessage") in {(call.function, call.action) for call in calls}
    assert ("worker", "dynamodb:UpdateItem", "_long#acme") in {(w.function, w.action, w.partition) for w in writes}
    assert_granted(aws_calls, resources)


def test_by_default_no_function_reserves_concurrency(resources):
    assert not [
        name for name, p in of_type(resources, "AWS::Lambda::Function").items() if "ReservedConcurrentExecutions" in p
    ]


def test_the_runners_reserved_concurrency_and_the_cap_come_from_the_configuration():
    from tests.infra.conftest import synthesize

    _, template = synthesize(runner_reserved_concurrency=25, max_long_tasks_per_tenant=4)
    resources = template.to_json()["Resources"]
    runner_id, runner = functions_by_handler(resources)[HANDLERS["runner"]]
    assert runner["ReservedConcurrentExecutions"] == 25
    functions = of_type(resources, "AWS::Lambda::Function")
    assert {name for name, p in functions.items() if "ReservedConcurrentExecutions" in p} == {runner_id}
    _, worker = functions_by_handler(resources)[HANDLERS["worker"]]
    assert worker["Environment"]["Variables"]["ASYNCINFER_MAX_LONG_TASKS_PER_TENANT"] == "4"


@pytest.mark.parametrize("bad", [{"runner_reserved_concurrency": 0}, {"max_long_tasks_per_tenant": -1}])
def test_the_configuration_refuses_a_reservation_of_nothing_and_a_negative_cap(bad):
    with pytest.raises(ValidationError):
        InfraConfig.from_context(bad)


def test_preflight_finds_the_deployed_runner_by_its_logical_id(resources):
    """`asyncinfer preflight` reads what the deployed runner reserves (an update) by this id's prefix."""
    from asyncinfer.ops.preflight import RUNNER_LOGICAL_ID

    runner_id, _ = functions_by_handler(resources)[HANDLERS["runner"]]
    functions = of_type(resources, "AWS::Lambda::Function")
    assert [name for name in functions if name.startswith(RUNNER_LOGICAL_ID)] == [runner_id]
