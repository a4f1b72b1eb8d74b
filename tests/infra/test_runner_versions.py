"""The runner's versions outlive a deploy: a long task is pinned to the version that started it (up to
runner_execution_days), so a new version must not delete the old one (docs/operate/upgrades.md)."""

from __future__ import annotations

import pytest

from asyncinfer.routes import HANDLERS
from tests.infra.conftest import synthesize
from tests.infra.helpers import as_list, functions_by_handler, of_type, policy_statements_of


def runner_version(template) -> tuple[str, dict]:
    """The logical id and resource of the runner function's AWS::Lambda::Version (the alias's target)."""
    resources = template.to_json()["Resources"]
    runner, _ = functions_by_handler(resources)[HANDLERS["runner"]]
    (found,) = [
        (name, resources[name])
        for name, props in of_type(resources, "AWS::Lambda::Version").items()
        if props["FunctionName"] == {"Ref": runner}
    ]
    return found


@pytest.fixture(scope="module")
def two_deploys(template):
    """Today's stack and the next deploy's, whose runner is configured differently (a new version)."""
    _, changed = synthesize(runner_step_budget_seconds=301)
    return runner_version(template), runner_version(changed)


def test_each_deploy_retains_the_runner_version_it_replaces(two_deploys):
    (first_id, first), (second_id, second) = two_deploys
    assert first_id != second_id, "a changed runner must be a new version (a new logical id)"
    for version in (first, second):
        assert version["DeletionPolicy"] == "Retain"
        assert version["UpdateReplacePolicy"] == "Retain"


def test_the_alias_points_at_the_current_version(template):
    resources = template.to_json()["Resources"]
    version_id, _ = runner_version(template)
    (alias,) = of_type(resources, "AWS::Lambda::Alias").values()
    assert alias["FunctionVersion"] == {"Fn::GetAtt": [version_id, "Version"]}


def test_the_pruner_is_granted_exactly_what_it_calls_and_runs_daily(resources):
    runner, _ = functions_by_handler(resources)[HANDLERS["runner"]]
    pruner, _ = functions_by_handler(resources)[HANDLERS["pruner"]]
    runner_arn = {"Fn::GetAtt": [runner, "Arn"]}
    versions = {"Fn::Join": ["", [runner_arn, ":*"]]}
    granted: dict[str, list] = {}
    for statement in policy_statements_of(resources, pruner):
        assert statement["Effect"] == "Allow"
        for action in as_list(statement["Action"]):
            if action.startswith("lambda:"):
                granted.setdefault(action, []).extend(as_list(statement["Resource"]))
    assert granted == {
        "lambda:ListVersionsByFunction": [runner_arn],
        "lambda:ListAliases": [runner_arn],
        "lambda:ListDurableExecutionsByFunction": [runner_arn, versions],
        # Versions only: the unqualified ARN (the function itself) is never deletable by it.
        "lambda:DeleteFunction": [versions],
    }
    schedules = [
        rule["ScheduleExpression"]
        for rule in of_type(resources, "AWS::Events::Rule").values()
        if any(target["Arn"] == {"Fn::GetAtt": [pruner, "Arn"]} for target in rule.get("Targets", []))
    ]
    assert schedules == ["rate(1 day)"]
