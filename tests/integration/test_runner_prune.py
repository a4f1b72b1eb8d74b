"""The prune of the runner's versions, against botocore's Stubber: the calls and parameters of Lambda's own
service model (ListVersionsByFunction, ListAliases, ListDurableExecutionsByFunction, DeleteFunction)."""

from __future__ import annotations

import boto3
import pytest
from botocore.stub import Stubber

from asyncinfer import cli
from asyncinfer.handlers import pruner
from asyncinfer.ops.prune import UNFINISHED, prune_versions
from infra.local.functions import LocalContext
from tests.conftest import load_event

pytestmark = pytest.mark.integration

RUNNER = "asyncinfer-Runner"
ARN = f"arn:aws:lambda:us-east-1:123456789012:function:{RUNNER}"


def lambda_client():
    return boto3.client("lambda", region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing")


def deployed(stubber: Stubber, versions: list[str], *, alias: str = "6", routed: dict | None = None) -> None:
    """Six deploys: $LATEST and versions 1..6, the alias `live` on `alias` (and `routed` weights)."""
    page = [{"FunctionName": RUNNER, "FunctionArn": f"{ARN}:{v}", "Version": v} for v in ["$LATEST", *versions]]
    stubber.add_response("list_versions_by_function", {"Versions": page}, {"FunctionName": RUNNER})
    live = {"AliasArn": f"{ARN}:live", "Name": "live", "FunctionVersion": alias}
    if routed:
        live["RoutingConfig"] = {"AdditionalVersionWeights": routed}
    stubber.add_response("list_aliases", {"Aliases": [live]}, {"FunctionName": RUNNER})


def executions(stubber: Stubber, version: str, running: bool) -> None:
    found = (
        [
            {
                "DurableExecutionArn": f"{ARN}:{version}/durable-execution/task-{version}/1",
                "DurableExecutionName": f"task-{version}",
                "FunctionArn": f"{ARN}:{version}",
                "Status": "RUNNING",
                "StartTimestamp": "2026-12-01T00:00:00Z",
            }
        ]
        if running
        else []
    )
    stubber.add_response(
        "list_durable_executions_by_function",
        {"DurableExecutions": found},
        {"FunctionName": RUNNER, "Qualifier": version, "Statuses": list(UNFINISHED), "MaxItems": 1},
    )


def six_versions_two_running(stubber: Stubber, *, dry_run: bool) -> None:
    """Versions 4 and 2 still run long tasks; 6 is the alias's; 5, 3 and 1 have nothing unfinished."""
    deployed(stubber, ["1", "2", "3", "4", "5", "6"])
    for version in ["5", "4", "3", "2", "1"]:
        running = version in {"4", "2"}
        executions(stubber, version, running)
        if not running and not dry_run:
            stubber.add_response("delete_function", {}, {"FunctionName": RUNNER, "Qualifier": version})


def test_deletes_exactly_the_versions_with_no_unfinished_execution():
    client = lambda_client()
    with Stubber(client) as stubber:
        six_versions_two_running(stubber, dry_run=False)
        report = prune_versions(client, RUNNER, keep=0)
        stubber.assert_no_pending_responses()
    assert report.deleted == ("5", "3", "1")
    assert report.kept == {"6": "alias live", "4": "running", "2": "running"}


def test_a_dry_run_deletes_nothing():
    client = lambda_client()
    # No DeleteFunction is stubbed: the Stubber fails any call it was not given.
    with Stubber(client) as stubber:
        six_versions_two_running(stubber, dry_run=True)
        report = prune_versions(client, RUNNER, keep=0, dry_run=True)
        stubber.assert_no_pending_responses()
    assert report.deleted == ("5", "3", "1") and report.dry_run


def test_the_newest_and_every_routed_version_are_kept_unasked():
    client = lambda_client()
    with Stubber(client) as stubber:
        # A weighted alias (6, with 10% to 3); keep=2 keeps 6 and 5 without listing their executions.
        deployed(stubber, ["1", "2", "3", "4", "5", "6"], routed={"3": 0.1})
        for version in ["4", "2", "1"]:
            executions(stubber, version, running=False)
            stubber.add_response("delete_function", {}, {"FunctionName": RUNNER, "Qualifier": version})
        report = prune_versions(client, RUNNER, keep=2)
        stubber.assert_no_pending_responses()
    assert report.kept == {"6": "alias live", "5": "newest", "3": "alias live"}
    assert report.deleted == ("4", "2", "1")


def test_the_command_dry_run(monkeypatch, capsys):
    client = lambda_client()
    monkeypatch.setattr(cli.wiring, "client", lambda service: client)
    with Stubber(client) as stubber:
        six_versions_two_running(stubber, dry_run=True)
        assert cli.main(["runner", "prune", "--function", RUNNER, "--keep", "0", "--dry-run"]) == 0
        stubber.assert_no_pending_responses()
    out = capsys.readouterr().out.splitlines()
    assert out[-1] == f"{RUNNER}: would delete 3, kept 3 (and $LATEST)"
    assert "kept 4: running" in out and "would delete 5" in out


def test_the_scheduled_handler_prunes_with_its_settings(monkeypatch):
    client = lambda_client()
    monkeypatch.setenv("ASYNCINFER_RUNNER_FUNCTION_NAME", RUNNER)
    monkeypatch.setenv("ASYNCINFER_PRUNE_KEEP", "0")
    monkeypatch.setattr(pruner, "lambda_client", lambda: client)
    with Stubber(client) as stubber:
        six_versions_two_running(stubber, dry_run=False)
        result = pruner.lambda_handler(load_event("pruner_schedule"), LocalContext("asyncinfer-pruner", 300))
        stubber.assert_no_pending_responses()
    assert result == {"deleted": ["5", "3", "1"], "kept": {"6": "alias live", "4": "running", "2": "running"}}
