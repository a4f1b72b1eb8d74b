"""The batch function routes a chat batch's items (asyncinfer.tasks.batch_items with asyncinfer.tasks.provider_parts):
a model's items with batch jobs, at least its minimum, are made CREATED with path `provider_batch`, never queued,
and go up as one part's runner execution; the rest is queued as before. Run again, it starts nothing twice. Items
a part's job did not answer are queued on demand while the window is open, else fail `batch_expired`."""

from __future__ import annotations

from pathlib import Path

import pytest

from asyncinfer import wiring
from asyncinfer.config import BatchSettings, WorkerSettings
from asyncinfer.domain.batch_parts import execution_name
from asyncinfer.domain.batches import item_task_id
from asyncinfer.domain.model import TaskStatus
from asyncinfer.domain.records import BatchStatus
from asyncinfer.queue.base import BatchJob
from asyncinfer.queue.sqs import SqsQueue
from asyncinfer.store.dynamodb_records import DynamoBatchStore
from asyncinfer.tasks.provider_parts import ON_DEMAND, PROVIDER_BATCH, hand_back
from infra.local.batch_jobs import DemoBatchJobs
from tests.integration.test_batches import create, get
from tests.integration.test_budgets import budget, usage
from tests.integration.test_long_tasks import long_tasks  # noqa: F401  (the durable runtime fixture)

pytestmark = pytest.mark.integration
PRICED = Path(__file__).resolve().parents[2] / "functions/asyncinfer/models.priced.json"


def requests(count: int, model: str, start: int = 0, max_tokens: int | None = None) -> list[dict]:
    """`count` chat lines; with `max_tokens`, each reserves that many completion tokens."""
    cap = {} if max_tokens is None else {"max_tokens": max_tokens}
    return [
        {"custom_id": f"r{i}", "body": {"model": model, "messages": [{"role": "user", "content": f"q {i}"}], **cap}}
        for i in range(start, start + count)
    ]


def store() -> DynamoBatchStore:
    return DynamoBatchStore(wiring.client("dynamodb"), WorkerSettings().table_name)


def items_of(batch_id: str, count: int) -> list:
    found = store().get_tasks("acme", [item_task_id(batch_id, i) for i in range(count)])
    return sorted(found.values(), key=lambda t: t.batch_index)


def started(durable, batch_id: str) -> str:
    """The part's execution, started by the batch function (found by its name, not started here)."""
    arn = durable.executions()._by_name(execution_name(batch_id, 0))
    assert arn, "the batch function started the part's execution"
    return arn


@pytest.fixture
def stand_in(long_tasks, monkeypatch):  # noqa: F811
    aws, durable = long_tasks
    monkeypatch.setenv("ASYNCINFER_MODELS_FILE", str(PRICED))
    jobs = DemoBatchJobs(aws.s3, seconds=0.5, min_records=10)
    jobs.start_serving()
    monkeypatch.setenv("ASYNCINFER_DEMO_BATCH_JOBS_URL", jobs.url)
    yield aws, durable, jobs
    jobs.stop_serving()


def test_a_models_items_go_up_as_one_part_and_the_rest_is_queued_once(stand_in):
    aws, durable, jobs = stand_in
    status, batch = create(aws, {"requests": [*requests(12, "demo-batch-bedrock"), *requests(3, "demo-chat", 12)]})
    assert status == 200, batch
    batch_id = batch["id"].removeprefix("batch_").replace("-", "")
    aws.run_queue("batch")
    made = items_of(batch_id, 15)
    assert [t.path for t in made] == [PROVIDER_BATCH] * 12 + [None] * 3
    assert aws.queue_depth(aws.resources.batch_items_queue_url) == 3, "only the on-demand items are queued"
    ended = durable.wait(started(durable, batch_id), timeout=60)
    assert ended["Status"] == "SUCCEEDED", ended
    assert jobs.created == 1
    assert {t.status for t in items_of(batch_id, 12)} == {TaskStatus.COMPLETED}


def test_a_run_again_starts_no_second_job_and_queues_no_part_item(stand_in):
    aws, durable, jobs = stand_in
    status, batch = create(aws, {"requests": requests(10, "demo-batch-openai")})
    assert status == 200, batch
    batch_id = batch["id"].removeprefix("batch_").replace("-", "")
    aws.run_queue("batch")
    wiring.batches(BatchSettings()).run(BatchJob(tenant="acme", batch_id=batch_id))  # a crash's re-run
    assert aws.queue_depth(aws.resources.batch_items_queue_url) == 0
    assert durable.wait(started(durable, batch_id), timeout=60)["Status"] == "SUCCEEDED"
    assert (jobs.created, jobs.openai.created) == (0, 1), "one OpenAI batch"
    assert {t.status for t in items_of(batch_id, 10)} == {TaskStatus.COMPLETED}


def test_below_the_minimum_a_models_items_run_on_demand(stand_in):
    aws, _, jobs = stand_in
    status, batch = create(aws, {"requests": requests(9, "demo-batch-bedrock")})
    assert status == 200, batch
    batch_id = batch["id"].removeprefix("batch_").replace("-", "")
    aws.run_queue("batch")
    assert [t.path for t in items_of(batch_id, 9)] == [None] * 9
    assert aws.queue_depth(aws.resources.batch_items_queue_url) == 9
    assert jobs.created == 0


def test_absent_items_are_queued_on_demand_in_the_window_and_expire_after_it(stand_in):
    aws, _, _ = stand_in
    status, batch = create(aws, {"requests": requests(10, "demo-batch-bedrock"), "completion_window": "1h"})
    assert status == 200, batch
    batch_id = batch["id"].removeprefix("batch_").replace("-", "")
    before = aws.queue_depth(aws.resources.batch_items_queue_url)
    worker_store = wiring.worker(WorkerSettings()).store
    queue = SqsQueue(wiring.client("sqs"), aws.resources.batch_items_queue_url)
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("ASYNCINFER_RUNNER_FUNCTION_ARN")  # its items made, no part started: the handing back alone
        aws.run_queue("batch")
    assert [t.path for t in items_of(batch_id, 10)] == [None] * 10
    # As if a part had held items 0..4 and its job answered none of them.
    for task in items_of(batch_id, 5):
        worker_store.transition("acme", task.id, expect={TaskStatus.CREATED}, changes={"path": PROVIDER_BATCH})
    done = hand_back(worker_store, store(), queue, "acme", batch_id, [0, 1, 2])
    assert done == {"queued": 3, "expired": 0, "refused": 0}
    assert [t.path for t in items_of(batch_id, 5)] == [ON_DEMAND] * 3 + [PROVIDER_BATCH] * 2
    assert aws.queue_depth(aws.resources.batch_items_queue_url) == before + 10 + 3
    store().update_batch("acme", batch_id, expect={BatchStatus.IN_PROGRESS}, changes={"deadline_at": 1})
    done = hand_back(worker_store, store(), queue, "acme", batch_id, [3, 4])
    assert done == {"queued": 0, "expired": 2, "refused": 0}
    failed = items_of(batch_id, 5)[3:]
    assert {(t.status, t.error.code) for t in failed} == {(TaskStatus.FAILED, "batch_expired")}


def test_items_going_up_in_a_part_reserve_at_the_batch_price(stand_in):
    aws, _, _ = stand_in
    reserved = []
    for count in (10, 9):  # a part of 10; 9 are below the minimum and run on demand
        lines = requests(count, "demo-batch-bedrock")
        for line in lines:
            line["body"]["max_tokens"] = 1000
        status, batch = create(aws, {"requests": lines})
        assert status == 200, batch
        made = store().get_batch("acme", batch["id"].removeprefix("batch_").replace("-", ""))
        assert made is not None and made.reserved_e8
        reserved.append(made.reserved_e8 / count)
    assert reserved[0] * 2 == pytest.approx(reserved[1], rel=1e-6), "demo-batch-bedrock's batch prices are half"


def test_a_retried_item_first_sent_up_in_a_part_reserves_its_on_demand_price(stand_in, capsys):
    aws, durable, _ = stand_in
    budget(aws, capsys, "set", "--tenant", "acme", "--monthly", "100")
    lines = requests(10, "demo-batch-bedrock", max_tokens=1000)
    status, batch = create(aws, {"requests": lines})
    assert status == 200, batch
    batch_id = batch["id"].removeprefix("batch_").replace("-", "")
    aws.run_queue("batch")
    assert durable.wait(started(durable, batch_id), timeout=60)["Status"] == "SUCCEEDED"
    while aws.run_notifier():
        pass
    assert get(aws, batch["id"])["status"] == "completed"
    first = items_of(batch_id, 10)
    batch_share = first[0].reserved_e8
    assert batch_share and {t.path for t in first} == {PROVIDER_BATCH}
    # As if its job had failed items 0 and 1: their lines counted failed instead of completed.
    aws.ddb.update_item(
        TableName=aws.resources.table_name,
        Key={"pk": {"S": "acme"}, "sk": {"S": f"batch#{batch_id}"}},
        UpdateExpression="DELETE completed_items :lines ADD failed_items :lines",
        ExpressionAttributeValues={":lines": {"NS": ["0", "1"]}},
    )
    before = usage(aws)["budgets"]["monthly"]["reserved"]

    status, retried = aws.api("POST", f"/v1/batches/{batch['id']}/retry", body={}, function="api_batches")
    assert status == 200, retried
    held = usage(aws)["budgets"]["monthly"]["reserved"] - before
    assert held == pytest.approx(2 * 2 * batch_share / 1e8, rel=1e-6), "two items held at the on-demand price"
    aws.run_queue("batch")
    again = store().get_tasks("acme", [item_task_id(batch_id, i, 1) for i in (0, 1)])
    assert [t.reserved_e8 for t in again.values()] == [2 * batch_share] * 2
    assert {t.path for t in again.values()} == {None}, "a retry round runs on demand"


def test_a_handed_back_item_holds_its_on_demand_price_and_fails_when_that_does_not_fit(stand_in, capsys):
    aws, _, _ = stand_in
    budget(aws, capsys, "set", "--tenant", "acme", "--monthly", "100")
    lines = requests(10, "demo-batch-bedrock", max_tokens=1000)
    status, batch = create(aws, {"requests": lines, "completion_window": "1h"})
    assert status == 200, batch
    batch_id = batch["id"].removeprefix("batch_").replace("-", "")
    worker = wiring.worker(WorkerSettings())
    queue = SqsQueue(wiring.client("sqs"), aws.resources.batch_items_queue_url)
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("ASYNCINFER_RUNNER_FUNCTION_ARN")  # its items made, no part started: the handing back alone
        aws.run_queue("batch")
    for task in items_of(batch_id, 4):  # as if a part had held them and its job answered none
        worker.store.transition("acme", task.id, expect={TaskStatus.CREATED}, changes={"path": PROVIDER_BATCH})
    share = items_of(batch_id, 1)[0].reserved_e8
    before = usage(aws)["budgets"]["monthly"]["reserved"]

    done = hand_back(worker.store, store(), queue, "acme", batch_id, [0, 1, 2], blobs=worker.blobs)
    assert done == {"queued": 3, "expired": 0, "refused": 0}
    assert [t.reserved_e8 for t in items_of(batch_id, 3)] == [2 * share] * 3, "held at the on-demand price"
    held = usage(aws)["budgets"]["monthly"]["reserved"]
    assert held - before == pytest.approx(3 * share / 1e8, rel=1e-6)
    # No room left for the fourth one's rise: it fails, holding nothing, and is not queued.
    budget(aws, capsys, "set", "--tenant", "acme", "--monthly", f"{held:.8f}")
    queued = aws.queue_depth(aws.resources.batch_items_queue_url)
    done = hand_back(worker.store, store(), queue, "acme", batch_id, [3], blobs=worker.blobs)
    assert done == {"queued": 0, "expired": 0, "refused": 1}
    refused = items_of(batch_id, 4)[3]
    assert (refused.status, refused.error.code) == (TaskStatus.FAILED, "budget_exceeded")
    assert aws.queue_depth(aws.resources.batch_items_queue_url) == queued
    assert usage(aws)["budgets"]["monthly"]["reserved"] == pytest.approx(held - share / 1e8, rel=1e-6)
