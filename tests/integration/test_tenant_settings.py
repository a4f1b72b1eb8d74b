"""Service classes are entitlements, set per tenant with the admin CLI: a class not allowed is a 403 naming
it on every submitting route (a batch's items included), a class's waiting quota a 429 with Retry-After, and
a class's price multiplier (a registry setting) what its tasks cost. A tenant with no settings keeps them all."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from asyncinfer import cli
from tests.integration.test_budgets import budget, usage
from tests.support.models_file import serve_models

pytestmark = pytest.mark.integration

REGISTRY = {
    "version": 1,
    "class_prices": {"priority": 2.0, "flex": 0.5},
    "models": {
        "priced-image": {
            "provider": "local",
            "upstream": "demo-image",
            "kind": "image",
            "output_formats": ["png"],
            "prices": {"per_image": 0.04},
        },
        "priced-chat": {"provider": "local", "upstream": "demo-chat", "kind": "chat", "prices": {"per_request": 0.01}},
    },
}


@pytest.fixture
def priced(aws, tmp_path, monkeypatch):
    serve_models(REGISTRY, tmp_path, monkeypatch)
    return aws


def tenant(aws, capsys, *args: str) -> list[str]:
    capsys.readouterr()  # what the handlers printed before (their metrics, flushed when the buffer fills)
    assert cli.main(["tenant", *args, "--table", aws.resources.table_name]) == 0
    return capsys.readouterr().out.splitlines()


def chat(tier: str | None = None) -> dict:
    body = {"model": "priced-chat", "messages": [{"role": "user", "content": "hi"}]}
    return body if tier is None else {**body, "service_tier": tier}


def test_a_class_the_tenant_may_not_use_is_a_403_naming_it_on_every_route(priced, capsys):
    aws = priced
    assert tenant(aws, capsys, "show", "--tenant", "acme") == [
        "priority\tallowed\twaiting: the in-flight cap",
        "default\tallowed\twaiting: the in-flight cap",
        "flex\tallowed\twaiting: the in-flight cap",
    ]
    assert aws.api("POST", "/v1/async", body=chat("priority"))[0] == 200  # no settings: every class
    shown = tenant(aws, capsys, "set", "--tenant", "acme", "--classes", "default,flex")
    assert shown[0] == "priority\tnot allowed\twaiting: the in-flight cap"

    refused = [
        aws.api("POST", "/v1/async", body=chat("priority")),
        aws.api("POST", "/v1/async", body=chat("scale")),  # OpenAI's other name for it
        aws.api("POST", "/v1/messages/async", body={**chat(), "priority": 5}, function="api_privategpt"),
        aws.api(
            "POST",
            "/v1/generation",
            body={"model": "priced-image", "config": {"prompt": "a fox"}, "service_tier": "priority"},
            function="api_netmind",
        ),
        aws.api(
            "POST",
            "/v1/batches",
            body={"requests": [{"custom_id": "a", "body": chat()}, {"custom_id": "b", "body": chat("priority")}]},
            function="api_batches",
        ),
    ]
    for status, body in refused:
        assert (status, body["error"]["code"]) == (403, "class_not_allowed"), body
        assert body["error"]["message"].startswith("This tenant may not use the priority service class")
    assert aws.api("POST", "/v1/async", body=chat("flex"))[0] == 200
    assert aws.api("POST", "/v1/async", body=chat("priority"), tenant="globex")[0] == 200  # another tenant
    assert (
        tenant(aws, capsys, "set", "--tenant", "acme", "--classes", "all")[0]
        == "priority\tallowed\twaiting: the in-flight cap"
    )
    assert aws.api("POST", "/v1/async", body=chat("priority"))[0] == 200


def test_a_submit_beyond_the_class_waiting_quota_is_a_429_with_retry_after(priced, capsys):
    aws = priced
    assert tenant(aws, capsys, "set", "--tenant", "acme", "--waiting", "priority=2")[0] == (
        "priority\tallowed\twaiting at most 2"
    )
    assert [aws.api("POST", "/v1/async", body=chat("priority"))[0] for _ in range(2)] == [200, 200]
    result = aws.invoke_api("POST", "/v1/async", body=json.dumps(chat("priority")))
    body = json.loads(result["body"])
    assert (result["statusCode"], body["error"]["code"]) == (429, "too_many_waiting"), body
    headers = {
        **(result.get("headers") or {}),
        **{k: v[-1] for k, v in (result.get("multiValueHeaders") or {}).items()},
    }
    assert int(headers["Retry-After"]) > 0
    assert aws.api("POST", "/v1/async", body=chat())[0] == 200  # the default class has no quota of its own
    aws.run_worker()  # they start: the quota frees
    assert aws.api("POST", "/v1/async", body=chat("priority"))[0] == 200
    tenant(aws, capsys, "set", "--tenant", "acme", "--waiting", "priority=none")
    with pytest.raises(SystemExit):
        cli.main(["tenant", "set", "--tenant", "acme", "--waiting", "urgent=3", "--table", aws.resources.table_name])
    assert "give CLASS=COUNT" in capsys.readouterr().err


def test_each_class_pays_its_multiple_of_the_price(priced):
    aws = priced
    costs = {}
    for tier in ("priority", "default", "flex"):
        status, task = aws.api("POST", "/v1/async", body=chat(tier))
        assert status == 200, task
        aws.run_worker()
        status, read = aws.api("GET", f"/v1/async/{task['id']}")
        costs[tier] = Decimal(str(read["usage"]["cost"]["request_cost"]))
    assert costs == {"priority": Decimal("0.02"), "default": Decimal("0.01"), "flex": Decimal("0.005")}


def test_a_complete_by_task_holds_at_the_dearest_class_it_may_escalate_to(priced, capsys):
    aws = priced
    budget(aws, capsys, "set", "--tenant", "acme", "--monthly", "10")
    body = {**chat(), "complete_by": "+1h"}
    status, task = aws.api("POST", "/v1/async", body=body)
    assert status == 200, task
    assert usage(aws)["budgets"]["monthly"]["reserved"] == pytest.approx(0.02), "priority's price: it may go there"
    tenant(aws, capsys, "set", "--tenant", "acme", "--classes", "default,flex")
    assert aws.api("POST", "/v1/async", body=body)[0] == 200
    assert usage(aws)["budgets"]["monthly"]["reserved"] == pytest.approx(0.03), "then the default class's"
