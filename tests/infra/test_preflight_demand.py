"""`asyncinfer preflight` counts the concurrency the stack can demand from the synthesized template itself
(issue 30, point 5): every SQS event source's MaximumConcurrency and every reservation, summed per
function, against the account's quota (Lambda's answers stubbed with botocore's Stubber)."""

from __future__ import annotations

from datetime import date

import pytest

from asyncinfer.ops.preflight import Host, Result, Target, demand_of
from asyncinfer.ops.preflight.base import Context
from asyncinfer.ops.preflight.capacity import concurrency
from infra.config import ROOT
from tests.infra.conftest import synthesize
from tests.infra.helpers import CONFIG
from tests.integration.test_preflight import REGION, stubbed

pytestmark = pytest.mark.infra

WORKER = (
    CONFIG.worker_max_concurrency
    + CONFIG.priority_worker_max_concurrency
    + CONFIG.flex_worker_max_concurrency
    + CONFIG.batch_worker_max_concurrency
)


def quota(limit: int):
    answers = [("get_account_settings", {"AccountLimit": {"ConcurrentExecutions": limit}}, {})]
    return lambda service, region=None: stubbed(service, answers)


def check_with(stack_template, limit: int):
    host = Host(stack_template=stack_template, today=lambda: date(2026, 12, 6))
    return concurrency(Context(quota(limit), REGION, Target(project=ROOT), host))


def test_the_default_stack_can_demand_50_the_worker_lanes_the_batch_function_and_the_webhook_sender(template):
    demand = demand_of(template.to_json())
    assert demand.bounded == {"worker": WORKER, "batch": 5, "webhook_sender": 5}
    assert demand.total == 50  # what the issue counted: the event sources alone allow 50
    # No reservation by default: the runner, like the API functions, shares what the account has left.
    assert {"runner", "api_async", "authorizer", "stream", "dead_letter"} <= set(demand.unbounded)
    assert not set(demand.bounded) & set(demand.unbounded)


def test_the_sum_follows_the_configuration_through_the_synthesized_template():
    _, template = synthesize(worker_max_concurrency=30, runner_reserved_concurrency=150)
    demand = demand_of(template.to_json())
    assert demand.bounded == {"worker": WORKER + 10, "batch": 5, "webhook_sender": 5, "runner": 150}
    assert demand.total == 210 and "runner" not in demand.unbounded


def test_a_quota_below_the_sum_warns_and_names_the_quota_to_ask_for(template):
    found = check_with(
        lambda project: template.to_json(), 30
    )  # what preflight compared the sum with before: a constant 30
    unbounded = len(demand_of(template.to_json()).unbounded)
    assert found.result == Result.WARN
    assert "may take 50 (worker 40, batch 5, webhook_sender 5)" in found.detail
    assert f"{unbounded} other functions (" in found.detail
    assert f"quota of at least {50 + unbounded}" in found.fix and "Service Quotas" in found.fix


def test_a_quota_above_it_is_ok_and_says_what_is_left(template):
    found = check_with(lambda project: template.to_json(), 1000)
    assert found.result == Result.OK
    assert "take at most 50 (worker 40, batch 5, webhook_sender 5), leaving 950 to " in found.detail


def test_a_stack_that_does_not_synthesize_is_a_warning_that_says_why():
    def broken(project):
        raise RuntimeError("jsii: node not found")

    found = check_with(broken, 1000)
    assert found.result == Result.WARN
    assert "did not synthesize (RuntimeError: jsii: node not found)" in found.detail
