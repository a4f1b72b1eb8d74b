"""`asyncinfer preflight` on the runner's reserved concurrency (issue 29): whether the account's concurrency
quota allows it, Lambda keeping at least 100 concurrent executions unreserved; an update counts what the
deployed runner reserves already as coming back. Lambda's answers are stubbed (botocore's Stubber), the
rest is the emulator, as in test_preflight."""

from __future__ import annotations

import pytest

from asyncinfer.ops.preflight import Preflight, Result, Target
from tests.integration.test_preflight import (  # noqa: F401  (account: the emulator fixture)
    AVAILABLE,
    LAYER,
    REGION,
    account,
    bootstrap,
    by_name,
    clients_with,
    stubbed,
)

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("account")]

CHECK = "runner concurrency"
RUNNER_NAME = "asyncinfer-prod-RunnerFunctionC24880E3-abc"


def lambda_with(limit: int, unreserved: int, *, runner_reserves: int | None = None):
    answers = [
        ("get_layer_version_by_arn", {"LayerVersionArn": LAYER, "CompatibleArchitectures": ["arm64"]}, {"Arn": LAYER}),
        (
            "get_account_settings",
            {"AccountLimit": {"ConcurrentExecutions": limit, "UnreservedConcurrentExecutions": unreserved}},
            {},
        ),
    ]
    if runner_reserves is not None:
        answers.append(
            (
                "get_function_concurrency",
                {"ReservedConcurrentExecutions": runner_reserves},
                {"FunctionName": RUNNER_NAME},
            )
        )
    answers.append(("list_durable_executions_by_function", "ResourceNotFoundException", None))
    return stubbed("lambda", answers)


def check(clients, reserve: int | None):
    return by_name(Preflight(clients, REGION, Target(runner_reserved_concurrency=reserve)).run())[CHECK]


def test_no_reservation_asks_nothing_more_and_says_the_tenant_cap_bounds_the_runner():
    found = check(clients_with(**{"lambda": lambda_with(10, 10)}), None)
    assert found.result == Result.OK
    assert "none reserved" in found.detail and "max_long_tasks_per_tenant" in found.detail


def test_a_new_accounts_quota_cannot_hold_a_reservation_and_the_fix_names_the_quota_it_needs():
    found = check(clients_with(**{"lambda": lambda_with(10, 10)}), 20)
    assert found.result == Result.FAIL
    assert "would leave -10 of the account's 10 unreserved" in found.detail
    assert "at least 100 unreserved" in found.detail
    assert "quota of at least 120" in found.fix and "runner_reserved_concurrency" in found.fix


@pytest.mark.parametrize(
    ("unreserved", "reserve", "result"),
    [(1000, 50, Result.OK), (150, 50, Result.OK), (149, 50, Result.FAIL), (120, 50, Result.FAIL)],
)
def test_the_reservation_must_leave_100_unreserved_beside_what_other_functions_reserve(unreserved, reserve, result):
    found = check(clients_with(**{"lambda": lambda_with(1000, unreserved)}), reserve)
    assert found.result == result, found
    if result == Result.OK:
        left = unreserved - reserve
        assert found.detail == f"{reserve} reserved for the runner, {left} of {unreserved} left unreserved"
    else:
        assert f"quota of at least {1000 - (unreserved - reserve) + 100}" in found.fix


def test_an_update_counts_the_deployed_runners_reservation_as_coming_back():
    bootstrap()
    cfn = stubbed(
        "cloudformation",
        [
            (
                "describe_stacks",
                {"Stacks": [stack("CDKToolkit", "CREATE_COMPLETE")]},
                {"StackName": "CDKToolkit"},
            ),
            (
                "describe_stacks",
                {"Stacks": [stack("asyncinfer-prod", "UPDATE_COMPLETE")]},
                {"StackName": "asyncinfer-prod"},
            ),
            (
                "describe_stack_resources",
                {
                    "StackResources": [
                        resource("RunnerFunctionCurrentVersion1A2B3C4D", "AWS::Lambda::Version", "arn:...:7"),
                        resource("RunnerFunctionC24880E3", "AWS::Lambda::Function", RUNNER_NAME),
                        resource("WorkerFunction5A1B2C3D", "AWS::Lambda::Function", "asyncinfer-prod-Worker-xyz"),
                    ]
                },
                {"StackName": "asyncinfer-prod"},
            ),
        ],
    )
    # A 300 quota whose runner reserves 150 today: 150 unreserved, and keeping 150 leaves 150, not 0.
    found = check(clients_with(cloudformation=cfn, **{"lambda": lambda_with(300, 150, runner_reserves=150)}), 150)
    assert found.result == Result.OK, found
    assert found.detail == "150 reserved for the runner, 150 of 300 left unreserved"


def resource(logical_id: str, kind: str, physical_id: str) -> dict:
    return {
        "LogicalResourceId": logical_id,
        "ResourceType": kind,
        "PhysicalResourceId": physical_id,
        "ResourceStatus": "UPDATE_COMPLETE",
        "Timestamp": "2026-01-01",
        "StackName": "asyncinfer-prod",
    }


def stack(name: str, status: str) -> dict:
    return {"StackName": name, "StackStatus": status, "CreationTime": "2026-01-01"}
