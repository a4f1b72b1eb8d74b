"""Every TransactWriteItems in the store whose condition can fail, failing once in a running stack: it
changes nothing, as on DynamoDB, and what the table's stream drives (webhooks, a batch's completion) keeps
going. moto once swapped a copy of the table in after a failed transaction, and the stream's reader kept
following the old table: both stopped, silently, for the rest of a `make dev` session."""

from collections.abc import Callable

import pytest

from asyncinfer.domain.model import TaskStatus, now_ms
from asyncinfer.domain.submission import IDEMPOTENCY
from asyncinfer.store.base import AlreadyExists, ApiKeyRecord, NameClaim
from asyncinfer.store.dynamodb import DynamoTaskStore
from asyncinfer.surfaces.async_api import internal_id
from tests.integration.conftest import REFERENCE_BODY
from tests.support.webhook_receiver import WebhookReceiver

pytestmark = pytest.mark.integration


def submit(aws, **extra) -> tuple[int, dict]:
    return aws.api("POST", "/v1/async", body={**REFERENCE_BODY, **extra.pop("body", {})}, **extra)


def create_batch(aws, requests: int, **extra) -> tuple[int, dict]:
    lines = [
        {"custom_id": f"q{i}", "body": {"model": "demo-chat", "messages": [{"role": "user", "content": f"Q{i}"}]}}
        for i in range(requests)
    ]
    return aws.api("POST", "/v1/batches", body={"requests": lines}, function="api_batches", **extra)


def message_id_conflict(aws, monkeypatch) -> None:
    call = {"function": "api_privategpt", "query": {"message_id": "msg_taken"}}
    call["body"] = {"messages": [{"role": "user", "content": "hi"}]}
    assert aws.api("POST", "/v1/messages/async", **call)[0] == 200
    status, error = aws.api("POST", "/v1/messages/async", **call)
    assert status == 409 and error["error"]["code"] == "message_id_conflict"


def racing(monkeypatch) -> list[tuple]:
    """The next read of a client-chosen name misses it, as the read of a submit racing another with the
    same key does: the other's write lands after the read and before this submit's transaction, which then
    fails on the name. Returns the reads that missed."""
    real, missed = DynamoTaskStore.get_name, []

    def get_name(self, *args):
        if not missed:
            missed.append(args)
            return None
        return real(self, *args)

    monkeypatch.setattr(DynamoTaskStore, "get_name", get_name)
    return missed


def idempotent_replay(aws, monkeypatch) -> None:
    key = {"Idempotency-Key": "order-1"}
    first = submit(aws, headers=key)
    missed = racing(monkeypatch)
    again = submit(aws, headers=key)
    assert missed and first[0] == again[0] == 200 and again[1]["id"] == first[1]["id"]


def idempotency_conflict(aws, monkeypatch) -> None:
    key = {"Idempotency-Key": "order-2"}
    assert submit(aws, headers=key)[0] == 200
    missed = racing(monkeypatch)
    status, error = submit(aws, headers=key, body={"max_tokens": 7})
    assert missed and status == 409 and error["error"]["code"] == "idempotency_conflict"


def batch_idempotent_replay(aws, monkeypatch) -> None:
    key = {"Idempotency-Key": "nightly-1"}
    first = create_batch(aws, 1, headers=key)
    missed = racing(monkeypatch)
    again = create_batch(aws, 1, headers=key)
    assert missed and first[0] == again[0] == 200 and again[1]["id"] == first[1]["id"]


def batch_idempotency_conflict(aws, monkeypatch) -> None:
    key = {"Idempotency-Key": "nightly-2"}
    assert create_batch(aws, 1, headers=key)[0] == 200
    missed = racing(monkeypatch)
    status, error = create_batch(aws, 2, headers=key)
    assert missed and status == 409 and error["error"]["code"] == "idempotency_conflict"


def delete_of_a_named_task_not_ended(aws, monkeypatch) -> None:
    assert submit(aws, headers={"Idempotency-Key": "order-3"})[0] == 200
    named = aws.store.get_name("acme", IDEMPOTENCY, "order-3")
    claim = NameClaim(IDEMPOTENCY, "order-3", named.fingerprint)
    aws.store.delete_if("acme", named.task_id, expect=[TaskStatus.COMPLETED], names=[claim])  # it is CREATED
    assert aws.store.get("acme", named.task_id).status == TaskStatus.CREATED


def api_key_collision(aws, monkeypatch) -> None:
    key = ApiKeyRecord(key_hash="h1", tenant="acme", created_at=now_ms())
    aws.store.put_api_key(key)
    with pytest.raises(AlreadyExists):
        aws.store.put_api_key(key)


def task_id_collision(aws, monkeypatch) -> None:
    status, task = submit(aws)
    assert status == 200
    stored = aws.store.get("acme", internal_id(task["id"]))
    with pytest.raises(AlreadyExists):
        aws.store.create(stored, names=[NameClaim(IDEMPOTENCY, "fresh", "-")])


FAILED_TRANSACTIONS: dict[str, Callable] = {
    "privategpt message_id 409": message_id_conflict,
    "racing idempotent replay": idempotent_replay,
    "racing idempotency key conflict": idempotency_conflict,
    "racing batch idempotent replay": batch_idempotent_replay,
    "racing batch idempotency conflict": batch_idempotency_conflict,
    "conditional delete of a named task": delete_of_a_named_task_not_ended,
    "api key collision": api_key_collision,
    "task id collision": task_id_collision,
}


@pytest.mark.parametrize("fail", FAILED_TRANSACTIONS.values(), ids=FAILED_TRANSACTIONS.keys())
def test_after_a_failed_transaction_webhooks_still_arrive_and_batches_still_complete(aws, fail):
    with WebhookReceiver() as receiver:
        assert submit(aws, body={"webhook": {"url": receiver.url}})[0] == 200
        run_all(aws)  # the stream's reader now holds its place in the table's stream
        assert len(receiver.wait_for(1)) == 1
        with pytest.MonkeyPatch.context() as patch:
            fail(aws, patch)
        run_all(aws)
        status, later = submit(aws, body={"webhook": {"url": receiver.url}})
        assert status == 200
        status, batch = create_batch(aws, 3)
        assert status == 200
        run_all(aws)
        hits = receiver.wait_for(2, timeout=5)
    announced = any(later["id"] in hit.body.decode() for hit in hits)
    status, done = aws.api("GET", f"/v1/batches/{batch['id']}", function="api_batches")
    assert status == 200, done
    assert (announced, done["status"], done["request_counts"]["completed"]) == (True, "completed", 3), (
        "(the later task's webhook arrived, the batch's status, its completed items)"
    )


def run_all(aws) -> None:
    """What the event sources would do until nothing is left: batches, tasks, the stream, webhooks."""
    while aws.run_queue("batch") + aws.run_worker() + aws.run_notifier() + aws.run_queue("webhook_sender"):
        pass
