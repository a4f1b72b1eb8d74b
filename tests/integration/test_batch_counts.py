"""A batch's report of its items' endings on moto: each ending adds its line, what it was charged, what it would have
cost on demand and (completed) its path exactly once per round, however often the table stream tells it; the worker
and a provider batch part price `cost_on_demand` at the default class's on-demand prices."""

from __future__ import annotations

import uuid

import pytest

from asyncinfer import wiring
from asyncinfer.config import WorkerSettings
from asyncinfer.domain.batches import item_task_id
from asyncinfer.domain.deadlines import BATCH_EXPIRED
from asyncinfer.domain.model import Cost, ServiceTier, Task, TaskError, TaskStatus, Usage, now_ms
from asyncinfer.domain.records import Batch, BatchEndpoint, BatchStatus
from asyncinfer.handlers import notifier
from asyncinfer.runner.batch_jobs import BatchJobSteps
from asyncinfer.store.batch_retries import RetryRound
from asyncinfer.store.dynamodb_records import DynamoBatchStore
from asyncinfer.surfaces import async_api
from asyncinfer.surfaces import openai_batches as view
from asyncinfer.tasks.provider_parts import start_part
from tests.integration.test_batch_part_runner import (  # noqa: F401  (priced: the fixture)
    FakeJobs,
    Named,
    ReplayingSteps,
    made_batch,
    priced,
)
from tests.integration.test_batches import chat, create, run_all
from tests.integration.test_store import make_task
from tests.support.models_file import serve_models

pytestmark = pytest.mark.integration
S = TaskStatus


FLEX_REGISTRY = {
    "version": 1,
    "class_prices": {"flex": 0.5, "priority": 2.0},
    "models": {
        "priced-chat": {"provider": "local", "upstream": "demo-chat", "kind": "chat", "prices": {"per_request": 0.01}},
    },
}


def store(aws) -> DynamoBatchStore:
    return DynamoBatchStore(aws.ddb, aws.resources.table_name)


def made(aws, total: int = 3, status: BatchStatus = BatchStatus.IN_PROGRESS) -> Batch:
    at = now_ms()
    batch = Batch(
        id=uuid.uuid4().hex,
        tenant="acme",
        status=status,
        endpoint=BatchEndpoint.CHAT_COMPLETIONS,
        total=total,
        created_at=at,
        updated_at=at,
        input_key="batches/acme/input.jsonl",
    )
    store(aws).create_batch(batch)
    return batch


def ended(batch: Batch, index: int, status: TaskStatus, cost: float, on_demand: float | None, **extra) -> Task:
    usage = Usage(prompt_tokens=10, total_tokens=10, cost=Cost(total_cost=cost))
    fields = {"batch_id": batch.id, "batch_index": index, "usage": usage, "status": status, **extra}
    if on_demand is not None:
        fields["cost_on_demand"] = Cost(total_cost=on_demand)
    if status == S.FAILED:
        fields.setdefault("error", TaskError(code="provider_error", message="no"))
    return make_task(**fields)


def sums(batch: Batch | None) -> tuple[int, int, int, int, dict[str, int]]:
    assert batch is not None
    return batch.completed, batch.failed, batch.cost_e8, batch.cost_on_demand_e8, batch.paths


def test_an_ending_told_twice_adds_its_cost_once_and_still_returns_the_batch(aws):
    batch = made(aws)
    task = ended(batch, 0, S.COMPLETED, 0.5, 1.0, path="flex", service_tier=ServiceTier.FLEX)
    first = store(aws).count_item(task)
    assert sums(first) == (1, 0, 50_000_000, 100_000_000, {"flex": 1})
    again = store(aws).count_item(task)
    assert again is not None, "the batch, so that a tracker replaying after a crash can still finish it"
    assert sums(again) == sums(first)
    assert sums(store(aws).get_batch("acme", batch.id)) == sums(first)


def test_an_ending_without_an_on_demand_price_counts_at_what_it_was_charged(aws):
    batch = made(aws)
    assert sums(store(aws).count_item(ended(batch, 1, S.FAILED, 0.25, None))) == (0, 1, 25_000_000, 25_000_000, {})
    unpriced = make_task(batch_id=batch.id, batch_index=2, status=S.CANCELLED)
    assert sums(store(aws).count_item(unpriced))[2:] == (25_000_000, 25_000_000, {})


def test_paths_count_completed_items_only_each_under_the_path_it_took(aws):
    batch = made(aws, total=8)
    endings = [
        ended(batch, 0, S.COMPLETED, 0.1, 0.2, path="provider_batch"),
        ended(batch, 1, S.COMPLETED, 0.1, 0.1),  # no path: its class
        ended(batch, 2, S.COMPLETED, 0.1, 0.1, path="on_demand"),  # handed back by its part: its class
        ended(batch, 3, S.COMPLETED, 0.2, 0.1, service_tier=ServiceTier.PRIORITY),
        ended(batch, 4, S.COMPLETED, 0.2, 0.1, path="priority", service_tier=ServiceTier.PRIORITY),
        ended(batch, 5, S.FAILED, 0.1, 0.1, path="flex"),
        ended(batch, 6, S.FAILED, 0.1, 0.1, path="flex", error=TaskError(code=BATCH_EXPIRED, message="late")),
        ended(batch, 7, S.CANCELLED, 0.0, None, path="default"),
    ]
    for task in endings:
        last = store(aws).count_item(task)
    assert last is not None
    assert last.paths == {"provider_batch": 1, "default": 2, "priority": 2}
    assert sum(last.paths.values()) == last.completed == 5
    assert (last.failed, last.expired, last.cancelled) == (1, 1, 1)
    assert (last.cost_e8, last.cost_on_demand_e8) == (90_000_000, 80_000_000)


def test_an_older_rounds_ending_adds_nothing_and_a_retry_rounds_ending_adds_its_own(aws):
    batch = made(aws, total=2)
    failed_0 = ended(batch, 1, S.FAILED, 0.1, 0.2)
    store(aws).count_item(ended(batch, 0, S.COMPLETED, 0.3, 0.6))
    assert sums(store(aws).count_item(failed_0)) == (1, 1, 40_000_000, 80_000_000, {"default": 1})
    done = store(aws).update_batch(
        "acme", batch.id, expect={BatchStatus.IN_PROGRESS}, changes={"status": BatchStatus.COMPLETED}
    )
    retry = RetryRound(1, frozenset({1}), frozenset(), now_ms(), None, None, None)
    store(aws).start_round(done, retry, None)

    assert store(aws).count_item(failed_0) is None, "round 0's failure told again after the retry started"
    assert sums(store(aws).get_batch("acme", batch.id)) == (1, 0, 40_000_000, 80_000_000, {"default": 1})
    retried = ended(batch, 1, S.COMPLETED, 0.5, 1.0, batch_round=1, path="flex")
    after = store(aws).count_item(retried)
    assert sums(after) == (2, 0, 90_000_000, 180_000_000, {"default": 1, "flex": 1}), "both rounds' spend"
    assert sums(store(aws).count_item(retried)) == sums(after)
    assert store(aws).count_item(failed_0) is None


def test_a_tracker_that_crashed_after_counting_the_last_item_finishes_the_batch_on_the_repeated_record(
    aws, tmp_path, monkeypatch
):
    serve_models(FLEX_REGISTRY, tmp_path, monkeypatch)
    status, batch = create(aws, {"requests": [{"custom_id": "a", "body": chat("hi", "priced-chat")}]})
    assert status == 200, batch
    tracker = notifier.endings().tracker
    finish = tracker.finish
    crashed = []

    def crash_once(record: Batch) -> Batch:
        if not crashed:
            crashed.append(record.id)
            raise TimeoutError("the invocation ended")
        return finish(record)

    tracker.finish = crash_once
    run_all(aws)
    internal = view.internal_id(batch["id"])
    assert crashed == [internal]
    done = store(aws).get_batch("acme", internal)
    assert done is not None and done.status == BatchStatus.COMPLETED
    assert done.completed == 1 and done.paths == {"default": 1}
    assert (done.cost_e8, done.cost_on_demand_e8) == (1_000_000, 1_000_000), "counted once, at $0.01"


def test_the_worker_writes_cost_on_demand_at_the_default_class_price(aws, tmp_path, monkeypatch):
    serve_models(FLEX_REGISTRY, tmp_path, monkeypatch)
    body = {"model": "priced-chat", "messages": [{"role": "user", "content": "hi"}]}
    requests = [
        {"custom_id": "cheap", "body": {**body, "service_tier": "flex"}},
        {"custom_id": "dear", "body": {**body, "service_tier": "priority"}},
        {"custom_id": "plain", "body": body},
    ]
    status, batch = create(aws, {"requests": requests})
    assert status == 200, batch
    run_all(aws)
    internal = view.internal_id(batch["id"])
    tasks = [aws.store.get("acme", item_task_id(internal, index)) for index in range(3)]
    charged = [(t.usage.cost.total_cost, t.cost_on_demand.total_cost) for t in tasks]
    assert charged == [(0.005, 0.01), (0.02, 0.01), (0.01, 0.01)]
    done = store(aws).get_batch("acme", internal)
    assert (done.cost_e8, done.cost_on_demand_e8) == (3_500_000, 3_000_000)
    assert done.paths == {"flex": 1, "priority": 1, "default": 1}
    page = aws.api("GET", f"/v1/batches/{batch['id']}/results", function="api_batches")[1]["data"]
    lines = {line["custom_id"]: line for line in page}
    assert {k: lines["cheap"][k] for k in ("path", "cost", "cost_on_demand")} == {
        "path": "flex",
        "cost": "0.00500000",
        "cost_on_demand": "0.01000000",
    }
    single = aws.api("POST", "/v1/async", body={**body, "service_tier": "flex"})[1]
    aws.run_worker()
    task = aws.store.get("acme", async_api.internal_id(single["id"]))
    assert (task.usage.cost.total_cost, task.cost_on_demand.total_cost) == (0.005, 0.01)


def test_a_provider_batch_items_cost_on_demand_is_its_price_off_batch(priced):  # noqa: F811
    aws = priced
    batch_id = made_batch(aws, 12, "demo-batch-bedrock")
    worker = wiring.worker(WorkerSettings())
    start_part(Named(), worker.blobs, "acme", batch_id, 0, "demo-batch-bedrock", list(range(12)))
    for index in range(12):  # as the batch function marks a part's items (no runner here to plan parts)
        key = {"pk": {"S": "acme"}, "sk": {"S": f"task#{item_task_id(batch_id, index)}"}}
        aws.ddb.update_item(
            TableName=aws.resources.table_name,
            Key=key,
            UpdateExpression="SET #path = :path",
            ExpressionAttributeNames={"#path": "path"},
            ExpressionAttributeValues={":path": {"S": "provider_batch"}},
        )
    fake = FakeJobs(absent=set(), failing={5})
    part = BatchJobSteps(worker, store(aws), lambda spec: fake, lambda tenant, batch, absent: None)
    assert part.run("acme", batch_id, 0, ReplayingSteps())["status"] == "Completed"
    item = aws.store.get("acme", item_task_id(batch_id, 0))
    assert item.path == "provider_batch"
    assert (item.usage.cost.total_cost, item.cost_on_demand.total_cost) == (1.5, 3.0), "demo-batch-bedrock's prices"
    aws.run_notifier()
    done = store(aws).get_batch("acme", batch_id)
    assert (done.completed, done.failed) == (11, 1)
    assert done.cost_e8 == 11 * 150_000_000 and done.cost_on_demand_e8 == 2 * done.cost_e8
    assert done.paths == {"provider_batch": 11}
