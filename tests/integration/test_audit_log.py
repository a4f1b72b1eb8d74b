"""The operator's admin actions leave audit entries (when, what, which tenant, who, with what; never a key), and
what tenants do through the API leaves none."""

from __future__ import annotations

import argparse
import json
from decimal import Decimal

import pytest

from asyncinfer.ops import tenants
from asyncinfer.ops.audit import run_audit
from asyncinfer.store.dynamodb_audit import DynamoAuditLog
from asyncinfer.surfaces.async_api import internal_id
from asyncinfer.tasks.audit import TABLE_ENV, Action, Audit
from asyncinfer.tasks.budgets import Budgets
from asyncinfer.tasks.keys import create_key, hash_key, revoke_key
from tests.integration.conftest import REFERENCE_BODY
from tests.support.models_file import serve_models

PRICED = {
    "version": 1,
    "default_chat_model": "priced-chat",
    "models": {
        "priced-chat": {
            "provider": "local",
            "upstream": "demo-chat",
            "kind": "chat",
            "prices": {"input_per_million": 3.0, "output_per_million": 15.0, "per_request": 0.001},
        }
    },
}


def log_of(aws) -> DynamoAuditLog:
    return DynamoAuditLog(aws.ddb, aws.resources.audit_table_name)


def test_each_admin_action_is_recorded_with_its_tenant_actor_and_parameters(aws):
    key = create_key(aws.store, "acme", expires_at=2_000_000_000)
    key_id = hash_key(key)[:16]
    assert revoke_key(aws.store, "acme", key_id)
    budgets = Budgets(aws.store)
    budgets.set_limits("acme", daily=Decimal("5.00"), monthly=Decimal(100))
    budgets.clear_limits("acme")
    tenants.apply(aws.store, "acme", "priority,default", ["flex=3"])
    create_key(aws.store, "globex")

    entries = log_of(aws).entries("acme")
    assert [(e.action, e.params) for e in entries] == [
        (Action.KEY_CREATED, {"key_id": key_id, "expires_at": 2_000_000_000}),
        (Action.KEY_REVOKED, {"key_id": key_id}),
        (Action.BUDGET_SET, {"daily": "5.00", "monthly": "100"}),
        (Action.BUDGET_CLEARED, {"periods": ["daily", "monthly"]}),
        (Action.CLASSES_SET, {"classes": ["default", "priority"]}),
        (Action.WAITING_SET, {"service_class": "flex", "quota": 3}),
    ]
    # In-process moto answers GetCallerIdentity with its own made-up user: the caller's ARN, as on AWS.
    assert {e.actor for e in entries} == {aws_identity(aws)}
    assert all(e.tenant == "acme" for e in entries)
    assert [e.at for e in entries] == sorted(e.at for e in entries)
    assert [e.tenant for e in log_of(aws).entries()] == ["acme"] * 6 + ["globex"]
    stored = json.dumps(aws.ddb.scan(TableName=aws.resources.audit_table_name)["Items"])
    assert key not in stored and hash_key(key) not in stored


def aws_identity(aws) -> str:
    import boto3

    return boto3.client("sts").get_caller_identity()["Arn"]


def test_a_failed_revoke_records_nothing(aws):
    assert not revoke_key(aws.store, "acme", "0" * 16)
    assert log_of(aws).entries() == []


def test_an_api_request_by_a_tenant_leaves_no_entry_and_no_function_touches_the_audit_table(aws, aws_calls):
    create_key(aws.store, "acme")
    before = log_of(aws).entries()
    status, body = aws.api("POST", "/v1/async", body=REFERENCE_BODY)
    assert status == 200
    aws.run_worker()
    status, _ = aws.api("GET", f"/v1/async/{body['id']}")
    assert status == 200
    assert log_of(aws).entries() == before
    assert aws_calls.calls, "the functions' calls were recorded"
    touched = [c for c in aws_calls.calls if c.resource and aws.resources.audit_table_name in c.resource]
    assert touched == []


def test_audit_list_prints_a_tenants_entries_since_a_time(aws, capsys):
    clock = iter([1_000, 2_000_000_000_000])
    audit = Audit(log_of(aws), actor=lambda: "arn:aws:iam::123456789012:user/ops", clock=lambda: next(clock))
    create_key(aws.store, "acme", audit=audit)
    Budgets(aws.store, audit=audit).set_limits("acme", daily=Decimal(2))
    run_audit(argparse.Namespace(tenant="acme", since="2033-01-01", audit_table=aws.resources.audit_table_name))
    (line,) = capsys.readouterr().out.splitlines()
    assert line.split("\t") == [
        "2033-05-18T03:33:20Z",
        "budget.set",
        "acme",
        "arn:aws:iam::123456789012:user/ops",
        '{"daily":"2"}',
    ]


def test_without_an_audit_table_the_action_is_done_and_said_not_audited(aws, monkeypatch, capsys):
    monkeypatch.delenv(TABLE_ENV)
    key = create_key(aws.store, "acme")
    assert aws.store.get_api_key(hash_key(key)) is not None
    assert "not audited" in capsys.readouterr().err
    assert log_of(aws).entries() == []


@pytest.mark.parametrize("since", ["yesterday", "3w"])
def test_audit_list_refuses_a_since_it_cannot_read(aws, since):
    with pytest.raises(SystemExit, match="--since"):
        run_audit(argparse.Namespace(tenant=None, since=since, audit_table=aws.resources.audit_table_name))


def test_a_charged_task_counts_its_cost_as_spend_for_the_dashboard(aws, monkeypatch, tmp_path):
    from asyncinfer.observability import metrics

    serve_models(PRICED, tmp_path, monkeypatch)
    counted = []
    monkeypatch.setattr(metrics, "add_metric", lambda **kw: counted.append((kw["name"], kw["value"])))
    body = {"model": "priced-chat", "messages": [{"role": "user", "content": "a question"}]}
    _, made = aws.api("POST", "/v1/async", body=body)
    aws.run_worker()
    task = aws.store.get("acme", internal_id(made["id"]))
    assert task.usage.cost.total_cost > 0
    assert [value for name, value in counted if name == "Spend"] == [pytest.approx(task.usage.cost.total_cost)]
