"""Budgets through the real handlers against moto: the 402 on every submitting surface, the other tenant,
GET /v1/usage against the tasks' own costs (exactly, under duplicate messages and a re-claim), the CLI."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from botocore.exceptions import ClientError

from asyncinfer import cli, wiring
from asyncinfer.blobs.s3 import S3BlobStore
from asyncinfer.config import WorkerSettings
from asyncinfer.domain.budgets import Budget, dollars
from asyncinfer.domain.catalog import ModelRegistry
from asyncinfer.domain.model import Cost, TaskStatus, Usage, now_ms
from asyncinfer.providers.base import Finished, ProviderError
from asyncinfer.queue.base import TaskMessage
from asyncinfer.store.dynamodb import DynamoTaskStore
from asyncinfer.surfaces.async_api import internal_id
from asyncinfer.tasks.outcomes import Outcome, WorkerConfig, fail_dead_lettered
from asyncinfer.tasks.worker import Worker
from tests.integration.test_long_tasks import run
from tests.integration.test_worker import LONG, ScriptedProvider
from tests.support.durable import RUNNER_ARN, DurableRuntime
from tests.support.models_file import serve_models

pytestmark = pytest.mark.integration

TOKENS = {"input_per_million": 3.0, "output_per_million": 15.0}
REGISTRY = {
    "version": 1,
    "default_chat_model": "metered-chat",
    "models": {
        # Priced by its tokens only: a submit is refused once the spend reaches the limit.
        "metered-chat": {"provider": "local", "upstream": "demo-chat", "kind": "chat", "prices": TOKENS},
        # And a fixed price per request, known at submit.
        "priced-chat": {
            "provider": "local",
            "upstream": "demo-chat",
            "kind": "chat",
            "prices": {**TOKENS, "per_request": 0.001},
        },
        # A long task, on the durable runner.
        "priced-research": {
            "provider": "local",
            "upstream": "demo-deep-research",
            "kind": "chat",
            "runs": "durable",
            "tools": "demo-research",
            "prices": TOKENS,
        },
        "priced-image": {
            "provider": "local",
            "upstream": "demo-image",
            "kind": "image",
            "output_formats": ["png"],
            "prices": {"per_image": 0.04},
        },
    },
}


@pytest.fixture
def priced(aws, tmp_path, monkeypatch):
    serve_models(REGISTRY, tmp_path, monkeypatch)
    return aws


def chat(text: str, model: str = "metered-chat", **more) -> dict:
    return {"model": model, "messages": [{"role": "user", "content": text}], **more}


def make_worker(aws, provider, store=None) -> Worker:
    """A worker of this registry's models whose chat provider is `provider`."""
    config = WorkerConfig(flush_seconds=0.01, max_attempts=3, inline_result_bytes=16 * 1024, deadline_margin_ms=0)
    blobs = S3BlobStore(aws.s3, aws.resources.bucket_name)
    registry = ModelRegistry.model_validate(REGISTRY)
    sealer = wiring.sealer(WorkerSettings())
    return Worker(store or aws.store, blobs, registry, lambda spec: provider, config, sealer=sealer)


def budget(aws, capsys, *args: str) -> list[str]:
    """The admin CLI, as an operator runs it (against moto here)."""
    capsys.readouterr()  # what the handlers printed before (their metrics, flushed when the buffer fills)
    assert cli.main(["budget", *args, "--table", aws.resources.table_name]) == 0
    return capsys.readouterr().out.splitlines()


def submit(aws, body: dict, tenant: str = "acme", **kwargs) -> tuple[int, dict]:
    return aws.api("POST", "/v1/async", body=body, tenant=tenant, **kwargs)


def cost_of(aws, public_id: str, tenant: str = "acme") -> Decimal:
    """A task's cost as its own read shows it."""
    status, task = aws.api("GET", f"/v1/async/{public_id}", tenant=tenant)
    assert status == 200 and task["status"] == "COMPLETED", task
    return Decimal(str(task["usage"]["cost"]["total_cost"]))


def usage(aws, tenant: str = "acme", **query: str) -> dict:
    status, body = aws.api("GET", "/v1/usage", tenant=tenant, query=query or None)
    assert status == 200, body
    return body


def run_until_refused(aws, limit_tasks: int = 20) -> tuple[list[str], dict]:
    """Submit and run tasks one at a time until a submit is refused: the ids that ran, and the refusal."""
    ran = []
    for i in range(limit_tasks):
        # max_tokens bounds what each reserves: 19 prompt bytes and 40 tokens, $0.000657 (it costs $0.000606).
        status, body = submit(aws, chat(f"question {i:02}", max_tokens=40))
        if status != 200:
            assert status == 402, body
            return ran, body
        ran.append(body["id"])
        aws.run_worker()
    raise AssertionError("never refused")


def test_a_tenant_at_its_limit_gets_402_with_the_figures_and_another_tenant_is_unaffected(priced, capsys):
    aws = priced
    budget(aws, capsys, "set", "--tenant", "acme", "--daily", "0.003")
    ran, refusal = run_until_refused(aws)
    assert len(ran) == 4  # 4 x $0.000606 spent + $0.000657 reserved would pass $0.003
    spent = sum(cost_of(aws, task_id) for task_id in ran)
    assert spent == 4 * Decimal("0.000606")
    today = usage(aws)["budgets"]["daily"]["period"]
    assert refusal["error"]["code"] == "budget_exceeded"
    assert refusal["error"]["message"].startswith(
        f"This request reserves $0.000657, which does not fit in this tenant's daily budget of $0.003 ({today}, "
        f"UTC): {dollars(spent)} spent and $0.00 reserved by work still running."
    )
    assert {k: refusal["error"][k] for k in ("period", "spent", "reserved", "limit")} == {
        "period": "daily",
        "spent": float(spent),
        "reserved": 0,
        "limit": 0.003,
    }

    # Every surface that submits refuses it too, in its own route.
    refused = [
        aws.api("POST", "/async/chat/completions", body={"request": chat("p")}, function="api_perplexity"),
        aws.api("POST", "/v1/async/sonar", body={"request": chat("p")}, function="api_perplexity"),
        aws.api("POST", "/v1/messages/async", body={"messages": chat("p")["messages"]}, function="api_privategpt"),
        aws.api(
            "POST",
            "/v1/generation",
            body={"model": "priced-image", "config": {"prompt": "a fox"}},
            function="api_netmind",
        ),
        aws.api(
            "POST",
            "/v1/batches",
            body={"requests": [{"custom_id": "a", "body": chat("p")}]},
            function="api_batches",
        ),
    ]
    for status, body in refused:
        assert (status, body["error"]["code"]) == (402, "budget_exceeded"), body
        assert "daily budget of $0.003" in body["error"]["message"]

    # Another tenant is unaffected: it submits, runs, and its usage is its own.
    status, theirs = submit(aws, chat("question 0"), tenant="globex")
    assert status == 200, theirs
    aws.run_worker()
    assert usage(aws, "globex")["total"]["cost"] == float(cost_of(aws, theirs["id"], "globex"))
    assert usage(aws, "globex")["total"]["tasks"] == 1

    # GET /v1/usage is exactly the sum of the tenant's tasks' costs.
    mine = usage(aws)
    assert Decimal(str(mine["total"]["cost"])) == spent
    assert mine["total"]["tasks"] == len(ran)
    assert mine["data"] == [{**mine["data"][0], "date": today, "model": "metered-chat"}]
    assert mine["budgets"]["daily"] == {
        "period": today,
        "limit": 0.003,
        "spent": float(spent),
        "reserved": 0,
        "remaining": float(Decimal("0.003") - spent),
        "renews_at": mine["budgets"]["daily"]["renews_at"],
    }
    assert mine["budgets"]["monthly"]["limit"] is None

    # Raising the limit lets it submit again; clearing it removes it.
    budget(aws, capsys, "set", "--tenant", "acme", "--daily", "1")
    assert submit(aws, chat("again"))[0] == 200
    shown = budget(aws, capsys, "clear", "--tenant", "acme")
    assert shown[0].startswith("daily\t") and shown[0].endswith("no limit")


def test_an_idempotent_replay_is_never_refused(priced, capsys):
    aws = priced
    key = {"Idempotency-Key": "order-1"}
    status, first = submit(aws, chat("replay me"), headers=key)
    assert status == 200
    aws.run_worker()
    budget(aws, capsys, "set", "--tenant", "acme", "--daily", "0")
    status, again = submit(aws, chat("replay me"), headers=key)
    assert (status, again["id"]) == (200, first["id"])
    assert submit(aws, chat("something new"))[0] == 402


def test_a_request_whose_fixed_price_cannot_fit_is_refused_and_one_that_fits_is_not(priced, capsys):
    aws = priced
    budget(aws, capsys, "set", "--tenant", "acme", "--monthly", "0.10")

    def generate(images: int) -> tuple[int, dict]:
        body = {"model": "priced-image", "config": {"prompt": "a fox", "num_images": images}}
        return aws.api("POST", "/v1/generation", body=body, function="api_netmind")

    status, refusal = generate(3)
    assert status == 402
    assert refusal["error"]["message"].startswith(
        "This request reserves $0.12, which does not fit in this tenant's monthly budget of $0.10 "
        f"({usage(aws)['budgets']['monthly']['period']}, UTC): $0.00 spent and $0.00 reserved by work still running."
    )
    assert generate(2)[0] == 200
    aws.run_worker()
    assert usage(aws)["total"] == {
        "tasks": 1,
        "cost": 0.08,
        "prompt_tokens": 0,
        "completion_tokens": 0,
        "total_tokens": 0,
        "images": 2,
        "seconds": 0,
    }
    assert generate(1)[0] == 402  # 0.08 + 0.04 > 0.10
    # A batch fits as a whole, or not at all: its items' reservations add up ($0.001045 each: $0.001 a request,
    # 10 prompt bytes at $3 and one token at $15 a million).
    budget(aws, capsys, "set", "--tenant", "acme", "--monthly", "0.0825")
    items = [{"custom_id": f"r{i}", "body": chat(f"q{i}", "priced-chat", max_tokens=1)} for i in range(3)]
    status, refusal = aws.api("POST", "/v1/batches", body={"requests": items}, function="api_batches")
    assert status == 402 and "This request reserves $0.003135" in refusal["error"]["message"]
    status, accepted = aws.api("POST", "/v1/batches", body={"requests": items[:2]}, function="api_batches")
    assert status == 200, accepted
    assert usage(aws)["budgets"]["monthly"]["reserved"] == 0.00209


def test_usage_counts_every_cost_exactly_once_under_duplicate_messages_and_a_reclaim(priced):
    aws = priced
    ids = [submit(aws, chat(f"question {i}", "priced-chat"))[1]["id"] for i in range(4)]
    for public in ids:  # every message delivered three times, some in the same batch
        message = TaskMessage(tenant="acme", task_id=internal_id(public)).model_dump_json()
        for _ in range(2):
            aws.sqs.send_message(QueueUrl=aws.resources.queue_url, MessageBody=message)
    aws.run_worker()
    for public in ids[:2]:  # and again after they completed
        message = TaskMessage(tenant="acme", task_id=internal_id(public)).model_dump_json()
        aws.sqs.send_message(QueueUrl=aws.resources.queue_url, MessageBody=message)
    aws.run_worker()

    # A re-claim: worker A's lease runs out before it completes; B re-claims and completes; then A's
    # completion comes, and is refused with its cost.
    status, late = submit(aws, chat("re-claimed", "priced-chat"))
    assert status == 200, late
    task_id = internal_id(late["id"])
    now = now_ms()
    claimed_by_a = aws.store.transition(
        "acme",
        task_id,
        expect={TaskStatus.CREATED},
        attempt=0,
        changes={"status": TaskStatus.IN_PROGRESS, "attempt": 1, "lease_expires_at": now - 1, "started_at": now},
    )
    b = make_worker(aws, ScriptedProvider(words=2))
    assert b.process(TaskMessage(tenant="acme", task_id=task_id), remaining_ms=lambda: LONG) == Outcome.COMPLETED
    a = make_worker(aws, ScriptedProvider())
    a_usage = Usage(prompt_tokens=1, completion_tokens=9, total_tokens=10, cost=Cost(total_cost=0.5))
    assert a.complete(claimed_by_a, "A's answer", Finished("stop", a_usage), 0) == Outcome.ABANDONED
    assert aws.store.get("acme", task_id).attempt == 2
    ids.append(late["id"])

    costs = [cost_of(aws, public) for public in ids]
    report = usage(aws)
    assert Decimal(str(report["total"]["cost"])) == sum(costs)
    assert report["total"]["tasks"] == len(ids)
    assert report["budgets"]["daily"]["spent"] == report["budgets"]["monthly"]["spent"] == report["total"]["cost"]
    assert report["budgets"]["daily"]["reserved"] == report["budgets"]["monthly"]["reserved"] == 0
    # Worker B's two words, not worker A's forty: the completion that counted is the one that committed.
    assert costs[-1] == Decimal("0.001") + Decimal(2 * 15 + 3) / 1_000_000


def test_a_task_holds_its_reservation_while_it_runs_and_gives_back_what_it_did_not_use(priced, capsys):
    aws = priced
    # Each reserves $0.001 + 18 prompt bytes x $3 + 50 tokens x $15 a million = $0.001804; it uses 30 words.
    budget(aws, capsys, "set", "--tenant", "acme", "--daily", "0.0035")
    status, first = submit(aws, chat("first task", "priced-chat", max_tokens=50))
    assert status == 200, first
    figures = usage(aws)["budgets"]["daily"]
    assert (figures["spent"], figures["reserved"], figures["remaining"]) == (0, 0.001804, 0.001696)
    status, refusal = submit(aws, chat("second one", "priced-chat", max_tokens=50))
    assert status == 402 and refusal["error"]["reserved"] == 0.001804, refusal

    worker = make_worker(aws, ScriptedProvider(words=30))
    assert (
        worker.process(TaskMessage(tenant="acme", task_id=internal_id(first["id"])), lambda: LONG) == Outcome.COMPLETED
    )
    cost = cost_of(aws, first["id"])
    assert cost < Decimal("0.001804")
    figures = usage(aws)["budgets"]["daily"]
    assert (Decimal(str(figures["spent"])), figures["reserved"]) == (cost, 0)
    assert submit(aws, chat("second one", "priced-chat", max_tokens=50))[0] == 200  # what it did not use fits


def test_usage_reads_a_range_of_days_and_refuses_a_malformed_one(priced):
    aws = priced
    assert submit(aws, chat("q"))[0] == 200
    aws.run_worker()
    today = usage(aws)["budgets"]["daily"]["period"]
    assert usage(aws, start=today, end=today)["total"]["tasks"] == 1
    assert usage(aws, start="2020-01-01", end="2020-01-31") | {"budgets": None} == {
        "object": "usage",
        "currency": "usd",
        "start": "2020-01-01",
        "end": "2020-01-31",
        "data": [],
        "models": [],
        "total": {
            "tasks": 0,
            "cost": 0,
            "prompt_tokens": 0,
            "completion_tokens": 0,
            "total_tokens": 0,
            "images": 0,
            "seconds": 0,
        },
        "budgets": None,
    }
    for query in ({"start": "yesterday"}, {"start": "2020-02-01", "end": "2020-01-01"}, {"start": "2019-01-01"}):
        status, body = aws.api("GET", "/v1/usage", query=query)
        assert (status, body["error"]["code"]) == (400, "invalid_request"), body


def test_the_budget_commands_set_show_and_clear(priced, capsys):
    aws = priced
    lines = budget(aws, capsys, "set", "--tenant", "acme", "--daily", "5", "--monthly", "100.50")
    assert [line.split("\t")[0] for line in lines] == ["daily", "monthly"]
    assert lines[0].endswith("spent $0.00\treserved $0.00\tlimit $5.00\tremaining $5.00")
    assert lines[1].endswith("spent $0.00\treserved $0.00\tlimit $100.50\tremaining $100.50")
    assert budget(aws, capsys, "show", "--tenant", "acme") == lines
    cleared = budget(aws, capsys, "clear", "--tenant", "acme", "--daily")
    assert cleared[0].endswith("no limit") and cleared[1] == lines[1]
    with pytest.raises(SystemExit):
        cli.main(["budget", "set", "--tenant", "acme", "--daily", "-3", "--table", aws.resources.table_name])
    assert "a limit is from 0" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["budget", "set", "--tenant", "acme", "--table", aws.resources.table_name])
    assert "Give a daily or a monthly limit" in capsys.readouterr().err


class FaultyClient:
    """The table's client, but the completion's transaction fails as `fault` says, `times` times."""

    def __init__(self, client, fault: str, times: int = 1) -> None:
        self._client, self.fault, self.left = client, fault, times

    def __getattr__(self, name):
        return getattr(self._client, name)

    def transact_write_items(self, **kwargs):
        counting = any("usage#" in json.dumps(item) for item in kwargs["TransactItems"])
        if not counting or not self.left:
            return self._client.transact_write_items(**kwargs)
        self.left -= 1
        if self.fault == "conflict":  # DynamoDB cancels it: another transaction held the usage line
            reasons = [{"Code": "None"}, {"Code": "TransactionConflict", "Message": "Transaction is ongoing"}]
            error = {"Error": {"Code": "TransactionCanceledException", "Message": "conflict"}}
            raise ClientError({**error, "CancellationReasons": reasons}, "TransactWriteItems")
        if self.fault == "after commit":  # it committed, and the answer was lost (a crash, a timeout)
            self._client.transact_write_items(**kwargs)
        raise ClientError({"Error": {"Code": "InternalServerError", "Message": "boom"}}, "TransactWriteItems")


@pytest.mark.parametrize("fault", ["conflict", "after commit", "before commit"])
def test_a_fault_at_the_completion_still_counts_the_cost_once(priced, fault):
    aws = priced
    status, task = submit(aws, chat("fault", "priced-chat"))
    assert status == 200
    message = TaskMessage(tenant="acme", task_id=internal_id(task["id"]))
    faulty = DynamoTaskStore(FaultyClient(aws.ddb, fault, times=2 if fault == "conflict" else 1), aws.store._table)
    worker = make_worker(aws, ScriptedProvider(words=5), faulty)
    if fault == "conflict":  # tried again at once
        assert worker.process(message, remaining_ms=lambda: LONG) == Outcome.COMPLETED
    else:  # the message comes back, as SQS redelivers it
        with pytest.raises(ClientError):
            worker.process(message, remaining_ms=lambda: LONG)
        again = Outcome.DROPPED if fault == "after commit" else Outcome.COMPLETED
        assert make_worker(aws, ScriptedProvider(words=5)).process(message, remaining_ms=lambda: LONG) == again
    report = usage(aws)
    assert report["total"]["tasks"] == 1
    assert Decimal(str(report["total"]["cost"])) == cost_of(aws, task["id"])


@pytest.fixture
def durable(priced, monkeypatch):
    """The durable runner's executions, run by the testing SDK's local service (tests/support/durable.py)."""
    monkeypatch.setenv("ASYNCINFER_RUNNER_FUNCTION_ARN", RUNNER_ARN)
    monkeypatch.setenv("ASYNCINFER_DEMO_RESEARCH_TOOL_SECONDS", "0")
    with DurableRuntime(lambda event: priced.functions.invoke("runner", event)) as runtime:
        yield runtime


def test_a_long_task_on_the_durable_runner_counts_once(priced, durable):
    aws = priced
    body = {
        **chat("Why is the sky blue?", "priced-research"),
        "demo_research": {"steps": 2, "step_seconds": 0},
    }
    status, task = submit(aws, body)
    assert status == 200, task
    message = TaskMessage(tenant="acme", task_id=internal_id(task["id"])).model_dump_json()
    aws.sqs.send_message(QueueUrl=aws.resources.queue_url, MessageBody=message)  # a duplicate start
    done = run(aws, durable, task["id"])
    assert done["status"] == "COMPLETED", done
    aws.run_worker()  # the duplicate finds it ended
    report = usage(aws)
    assert report["data"][0]["model"] == "priced-research" and report["total"]["tasks"] == 1
    assert report["budgets"]["daily"]["reserved"] == 0  # each turn reserved, all of it settled
    assert Decimal(str(report["total"]["cost"])) == cost_of(aws, task["id"]) > 0


def test_a_long_tasks_turns_are_each_reserved_before_they_start(priced, durable):
    """A long task's turns after its first are reserved as they come: with the limit at its first turn's
    reservation, its second does not start; it ends budget_exceeded, charged its first turn."""
    aws = priced
    body = {**chat("Why is the sky blue?", "priced-research"), "demo_research": {"steps": 2, "step_seconds": 0}}
    status, task = submit(aws, body)
    assert status == 200, task
    first_turn = usage(aws)["budgets"]["daily"]["reserved"]
    assert first_turn > 0
    aws.store.set_budget("acme", Budget(daily=Decimal(str(first_turn))), at=0)
    done = run(aws, durable, task["id"])
    assert done["status"] == "FAILED" and done["error"]["code"] == "budget_exceeded", done
    daily = usage(aws)["budgets"]["daily"]
    charged = Decimal(str(done["usage"]["cost"]["total_cost"]))
    assert charged > 0 and (Decimal(str(daily["spent"])), daily["reserved"]) == (charged, 0)
    assert charged <= Decimal(str(first_turn))


def test_a_failure_after_output_is_charged_what_it_produced_and_lost_work_gives_its_reservation_back(priced):
    aws = priced
    status, task = submit(aws, chat("fails midway", "priced-chat", max_tokens=50))
    assert status == 200, task
    failing = ScriptedProvider(words=10, pause=0.02, fail=ProviderError("model_error", "boom", retryable=False))
    message = TaskMessage(tenant="acme", task_id=internal_id(task["id"]))
    assert make_worker(aws, failing).process(message, remaining_ms=lambda: LONG) == Outcome.FAILED
    status, read = aws.api("GET", f"/v1/async/{task['id']}")
    assert read["status"] == "FAILED" and read["usage"]["completion_tokens"] == 2  # "w0 w1 ", then the failure
    assert Decimal(str(read["usage"]["cost"]["total_cost"])) == Decimal("0.001") + Decimal(2 * 3 + 2 * 15) / 10**6
    daily = usage(aws)["budgets"]["daily"]
    assert (daily["spent"], daily["reserved"]) == (read["usage"]["cost"]["total_cost"], 0)

    # Work lost before it ran (its message dead-lettered): its end gives the whole reservation back.
    status, lost = submit(aws, chat("never runs", "priced-chat", max_tokens=50))
    assert usage(aws)["budgets"]["daily"]["reserved"] > 0
    assert fail_dead_lettered(aws.store, TaskMessage(tenant="acme", task_id=internal_id(lost["id"])))
    assert usage(aws)["budgets"]["daily"]["reserved"] == 0
    assert aws.store.get("acme", internal_id(lost["id"])).usage is None
