"""A batch's retry: the items' ids per round (round 0 as before rounds existed), the one write that starts a
round and what it is conditioned on, and the count that ignores an older round's ending."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from asyncinfer.domain.batches import BatchNotEnded, BatchNotRetryable, NothingToRetry, item_task_id
from asyncinfer.domain.errors import Conflict, InvalidRequest
from asyncinfer.domain.model import Task, TaskError, TaskKind, TaskStatus
from asyncinfer.domain.records import Batch, BatchEndpoint, BatchStatus
from asyncinfer.store.base import BatchChanged
from asyncinfer.store.batch_retries import RetryRound
from asyncinfer.store.dynamodb_records import DynamoBatchStore
from asyncinfer.tasks.batch_retry import BatchRetry, latest_rounds

BATCH_ID = "0190a5d27b3c7d4e8f001a2b3c4d5e6f"


def test_round_0_ids_are_the_ids_items_had_before_rounds_and_later_rounds_differ():
    # Pinned: the id item 7 of this batch has had since batches exist; changing it strands every stored item.
    assert item_task_id(BATCH_ID, 7) == "0190a5d27b3c7219b89b68fa097b6a93"
    assert item_task_id(BATCH_ID, 7, 0) == item_task_id(BATCH_ID, 7)
    ids = {item_task_id(BATCH_ID, 7, round) for round in range(4)}
    assert len(ids) == 4 and all(task_id[:12] == BATCH_ID[:12] for task_id in ids)  # the batch's time, each round


class FakeDynamo:
    """The calls DynamoBatchStore makes, recorded; a conditional update refused when `refuse` says so."""

    def __init__(self, item: dict[str, Any] | None = None, refuse: bool = False) -> None:
        self.item = item or {}
        self.refuse = refuse
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def transact_write_items(self, **kwargs: Any) -> None:
        self.calls.append(("transact", kwargs))
        if self.refuse:
            error = {"Code": "TransactionCanceledException", "Message": "no"}
            raise ClientError(
                {"Error": error, "CancellationReasons": [{"Code": "ConditionalCheckFailed"}]}, "TransactWriteItems"
            )

    def update_item(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(("update", kwargs))
        if self.refuse:
            raise ClientError({"Error": {"Code": "ConditionalCheckFailedException", "Message": "no"}}, "UpdateItem")
        return {"Attributes": self.item}

    def get_item(self, **kwargs: Any) -> dict[str, Any]:
        return {"Item": self.item} if self.item else {}


def batch_item(**more: Any) -> dict[str, Any]:
    item = {
        "pk": {"S": "acme"},
        "sk": {"S": f"batch#{BATCH_ID}"},
        "id": {"S": BATCH_ID},
        "tenant": {"S": "acme"},
        "status": {"S": "completed"},
        "endpoint": {"S": "/v1/async"},
        "total": {"N": "4"},
        "created_at": {"N": "1"},
        "updated_at": {"N": "1"},
        "input_key": {"S": "batches/acme/x/input.jsonl"},
        "failed_items": {"NS": ["2", "3"]},
    }
    return {**item, **more}


def batch(**more: Any) -> Batch:
    fields = {"id": BATCH_ID, "tenant": "acme", "endpoint": BatchEndpoint.ASYNC, "total": 4, "created_at": 1}
    return Batch(updated_at=1, input_key="batches/acme/x/input.jsonl", **{**fields, **more})


def test_starting_a_round_is_one_write_conditioned_on_the_batch_ended_in_the_round_before():
    ddb = FakeDynamo(batch_item(status={"S": "in_progress"}, round={"N": "1"}))
    store = DynamoBatchStore(ddb, "t")
    retry = RetryRound(1, frozenset({2, 3}), frozenset(), 99, None, None, None)
    started = store.start_round(batch(status=BatchStatus.COMPLETED), retry, None)
    assert started.round == 1
    assert [kind for kind, _ in ddb.calls] == ["transact"]
    call = ddb.calls[0][1]
    update = call["TransactItems"][0]["Update"]
    condition = update["ConditionExpression"]
    assert "#status IN (:completed, :expired)" in condition
    assert "(attribute_not_exists(#round) OR #round = :previous)" in condition
    values = update["ExpressionAttributeValues"]
    assert values[":previous"] == {"N": "0"} and values[":round"] == {"N": "1"}
    expression = update["UpdateExpression"]
    assert "#status = :running" in expression and "#round = :round" in expression
    for ended in ("ended_at", "results_key", "output_key", "errors_key", "deadline_at"):
        assert ended in expression.split("REMOVE")[1]
    assert "DELETE failed_items :failed_items" in expression and "expired_items" not in expression
    assert values[":failed_items"] == {"NS": ["2", "3"]}
    assert len(call["TransactItems"]) == 1  # no window: no due; nothing priced: no hold


def test_a_later_round_requires_exactly_the_round_before_and_a_window_writes_its_due():
    ddb = FakeDynamo(batch_item(round={"N": "2"}))
    retry = RetryRound(2, frozenset(), frozenset({1}), 99, 5099, "5s", None)
    DynamoBatchStore(ddb, "t").start_round(batch(status=BatchStatus.EXPIRED, round=1), retry, None)
    items = ddb.calls[0][1]["TransactItems"]
    update = items[0]["Update"]
    assert update["ConditionExpression"].endswith("AND #round = :previous")
    assert update["ExpressionAttributeValues"][":previous"] == {"N": "1"}
    assert "DELETE expired_items :expired_items" in update["UpdateExpression"]
    assert "deadline_at = :deadline" in update["UpdateExpression"]
    assert items[1]["Put"]["Item"]["sk"]["S"].startswith("0000000005099#acme#batch:")


def test_a_round_lost_to_another_retry_says_what_the_batch_is_now():
    ddb = FakeDynamo(batch_item(status={"S": "in_progress"}, round={"N": "1"}), refuse=True)
    retry = RetryRound(1, frozenset({2}), frozenset(), 99, None, None, None)
    with pytest.raises(BatchChanged) as lost:
        DynamoBatchStore(ddb, "t").start_round(batch(status=BatchStatus.COMPLETED), retry, None)
    assert lost.value.current is not None and lost.value.current.status == BatchStatus.IN_PROGRESS


def item(round: int | None, status: TaskStatus = TaskStatus.FAILED) -> Task:
    return Task(
        id=item_task_id(BATCH_ID, 2, round or 0),
        tenant="acme",
        kind=TaskKind.CHAT,
        model="m",
        status=status,
        created_at=1,
        updated_at=1,
        batch_id=BATCH_ID,
        batch_index=2,
        batch_round=round,
        error=TaskError(code="model_error", message="x"),
    )


@pytest.mark.parametrize(
    ("round", "condition"),
    [
        (
            None,
            "attribute_exists(pk) AND (attribute_not_exists(#round) OR #round = :round) AND NOT contains(#ended, :i)",
        ),
        (2, "attribute_exists(pk) AND #round = :round AND NOT contains(#ended, :i)"),
    ],
)
def test_an_item_is_counted_only_in_its_own_round(round, condition):
    ddb = FakeDynamo(batch_item())
    DynamoBatchStore(ddb, "t").count_item(item(round))
    call = ddb.calls[0][1]
    assert call["ConditionExpression"] == condition
    assert call["ExpressionAttributeValues"][":round"] == {"N": str(round or 0)}


def test_an_older_rounds_ending_told_again_counts_nothing():
    ddb = FakeDynamo(batch_item(round={"N": "1"}), refuse=True)  # the batch is in round 1: the condition fails
    assert DynamoBatchStore(ddb, "t").count_item(item(None)) is None


class FakeBlobs:
    def __init__(self, files: dict[str, bytes]) -> None:
        self.files = files

    def get(self, key: str) -> bytes | None:
        return self.files.get(key)

    def put(self, key: str, body: bytes, content_type: str) -> None:
        self.files[key] = body

    def lines(self, key: str):
        yield from self.files[key].splitlines()


class FakeRetryStore:
    def __init__(self, found: Batch, sets: dict[str, set[int]], lose: Batch | None = None) -> None:
        self.found, self.sets, self.lose = found, sets, lose
        self.rounds: list[RetryRound] = []

    def get_batch(self, tenant: str, batch_id: str) -> Batch | None:
        return self.found

    def ended_lines(self, tenant: str, batch_id: str) -> dict[str, set[int]]:
        return self.sets

    def start_round(self, found: Batch, retry: RetryRound, hold: Any) -> Batch:
        if self.lose is not None:
            raise BatchChanged(self.lose)
        self.rounds.append(retry)
        return found.model_copy(update={"status": BatchStatus.IN_PROGRESS, "round": retry.round})


class FakeTasks:
    budgets = None

    def __init__(self, blobs: FakeBlobs) -> None:
        self.blobs = blobs


class FakeJobs:
    def __init__(self) -> None:
        self.sent: list[Any] = []

    def send(self, job: Any) -> None:
        self.sent.append(job)


def retrier(found: Batch, sets: dict[str, set[int]], lose: Batch | None = None) -> BatchRetry:
    svc = BatchRetry()
    svc.tasks, svc.store, svc.jobs = FakeTasks(FakeBlobs({})), FakeRetryStore(found, sets, lose), FakeJobs()
    return svc


def test_a_retry_takes_the_failed_lines_and_the_expired_ones_only_when_asked():
    sets = {"failed_items": {3}, "expired_items": {0, 1}, "completed_items": {2}}
    svc = retrier(batch(status=BatchStatus.EXPIRED, completion_window="20s"), sets)
    started = svc.retry("acme", BATCH_ID, {})
    [retry] = svc.store.rounds
    assert started.round == 1 and retry.indexes == [3] and retry.expired == frozenset()
    assert retry.deadline_at is not None and retry.deadline_at - retry.now == 20_000  # its own window again
    assert json.loads(svc.tasks.blobs.files[f"batches/acme/{BATCH_ID}/round-1.json"]) == [3]
    assert len(svc.jobs.sent) == 1

    svc = retrier(batch(status=BatchStatus.EXPIRED), sets)
    svc.retry("acme", BATCH_ID, {"include_expired": True, "completion_window": "5m"})
    [retry] = svc.store.rounds
    assert retry.indexes == [0, 1, 3] and retry.completion_window == "5m"
    assert retry.deadline_at - retry.now == 300_000


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (BatchStatus.IN_PROGRESS, BatchNotEnded),
        (BatchStatus.CANCELLING, BatchNotEnded),
        (BatchStatus.CANCELLED, BatchNotRetryable),
    ],
)
def test_only_an_ended_batch_that_was_not_cancelled_is_retried(status, error):
    svc = retrier(batch(status=status), {"failed_items": {1}})
    with pytest.raises(error):
        svc.retry("acme", BATCH_ID, {})
    assert svc.jobs.sent == []


def test_nothing_failed_nothing_to_retry_and_a_bad_body_is_refused():
    svc = retrier(batch(status=BatchStatus.COMPLETED), {"completed_items": {0, 1, 2, 3}})
    with pytest.raises(NothingToRetry):
        svc.retry("acme", BATCH_ID, {})
    with pytest.raises(InvalidRequest, match="include_expired"):
        svc.retry("acme", BATCH_ID, {"include_expired": "yes"})
    with pytest.raises(InvalidRequest):
        svc.retry("acme", BATCH_ID, {"completion_window": "3 weeks"})


def test_a_retry_that_loses_the_round_writes_no_round_file_and_sends_no_job():
    running = batch(status=BatchStatus.IN_PROGRESS, round=1)
    svc = retrier(batch(status=BatchStatus.COMPLETED), {"failed_items": {1}}, lose=running)
    with pytest.raises(BatchNotEnded):
        svc.retry("acme", BATCH_ID, {})
    ended_again = batch(status=BatchStatus.COMPLETED, round=1)
    svc = retrier(batch(status=BatchStatus.COMPLETED), {"failed_items": {1}}, lose=ended_again)
    with pytest.raises(Conflict):
        svc.retry("acme", BATCH_ID, {})
    assert svc.tasks.blobs.files == {} and svc.jobs.sent == []


def test_each_line_reads_its_latest_round_and_a_missing_current_round_is_written_from_the_ended_sets():
    blobs = FakeBlobs({f"batches/acme/{BATCH_ID}/round-1.json": b"[1, 2, 3]"})
    store = FakeRetryStore(batch(), {"completed_items": {0, 1}, "failed_items": {3}})
    assert latest_rounds(blobs, batch(round=2), store) == {1: 1, 2: 2, 3: 1}
    assert json.loads(blobs.files[f"batches/acme/{BATCH_ID}/round-2.json"]) == [2]
    with pytest.raises(RuntimeError, match="round 3"):
        latest_rounds(blobs, batch(round=3))
