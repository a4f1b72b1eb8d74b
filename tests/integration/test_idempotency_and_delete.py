"""Idempotent submits (Idempotency-Key) and soft delete, through the Async API handler against moto."""

import copy

import pytest

from asyncinfer.domain.model import TaskStatus
from asyncinfer.handlers import api_async
from asyncinfer.surfaces.async_api import internal_id
from asyncinfer.tasks.admission import REPLAY_RESEND_AFTER_MS
from tests.integration.conftest import REFERENCE_BODY

pytestmark = pytest.mark.integration


def submit(aws, key=None, body=REFERENCE_BODY, tenant="acme"):
    return aws.api("POST", "/v1/async", body=body, headers={"Idempotency-Key": key} if key else None, tenant=tenant)


def test_the_same_key_and_body_give_the_same_task_and_one_message(aws):
    status, first = submit(aws, "order-42")
    assert status == 200
    status, again = submit(aws, "order-42")
    assert status == 200 and again == first
    assert len(aws.store.list("acme", limit=10, after=None, status=None).tasks) == 1
    assert aws.queue_depth() == 1
    # Another tenant's identical key is its own.
    status, theirs = submit(aws, "order-42", tenant="other")
    assert status == 200 and theirs["id"] != first["id"]


def test_the_same_key_with_another_body_is_a_409_and_changes_nothing(aws):
    _, first = submit(aws, "k1")
    changed = copy.deepcopy(REFERENCE_BODY)
    changed["messages"][0]["content"] = "Something else"
    status, body = submit(aws, "k1", body=changed)
    assert status == 409
    assert body["error"]["code"] == "idempotency_conflict"
    assert [t.id for t in aws.store.list("acme", limit=10, after=None, status=None).tasks] == [internal_id(first["id"])]


def test_a_replay_after_completion_answers_with_the_finished_task(aws):
    _, first = submit(aws, "k2")
    aws.run_worker()
    status, again = submit(aws, "k2")
    assert status == 200 and again["id"] == first["id"] and again["status"] == "COMPLETED"
    assert aws.queue_depth() == 0


def test_a_replay_re_enqueues_a_task_whose_first_submit_died_before_sending(aws):
    class DeadAfterWrite:
        def send(self, message):
            raise SystemExit  # the function died between the write and SendMessage

    real = api_async.service().queue
    api_async.service().queue = DeadAfterWrite()
    with pytest.raises(SystemExit):
        submit(aws, "k3")
    api_async.service().queue = real
    (orphan,) = aws.store.list("acme", limit=10, after=None, status=None).tasks
    assert aws.queue_depth() == 0
    _, again = submit(aws, "k3")  # a quick retry: the first submit may still be on its way
    assert aws.queue_depth() == 0
    # Still CREATED a minute later: the retry enqueues it.
    aged = orphan.created_at - REPLAY_RESEND_AFTER_MS - 1
    aws.store.transition("acme", orphan.id, expect={TaskStatus.CREATED}, changes={"created_at": aged})
    _, again = submit(aws, "k3")
    assert internal_id(again["id"]) == orphan.id
    aws.run_worker()
    assert aws.store.get("acme", orphan.id).status == TaskStatus.COMPLETED


@pytest.mark.parametrize("key", ["", "has space", "x" * 256, "naïve"])
def test_a_malformed_idempotency_key_is_refused(aws, key):
    status, body = aws.api("POST", "/v1/async", body=REFERENCE_BODY, headers={"Idempotency-Key": key})
    assert status == 400 and body["error"]["code"] == "invalid_idempotency_key"
    assert aws.queue_depth() == 0


def test_a_failed_enqueue_releases_the_key(aws):
    class BrokenQueue:
        def send(self, message):
            raise ConnectionError("sqs unreachable")

    real = api_async.service().queue
    api_async.service().queue = BrokenQueue()
    assert submit(aws, "k4")[0] == 503
    api_async.service().queue = real
    status, body = submit(aws, "k4")
    assert status == 200 and body["status"] == "CREATED"


def test_delete_hides_the_task_everywhere_and_purges_its_objects(aws, monkeypatch):
    monkeypatch.setenv("ASYNCINFER_INLINE_REQUEST_BYTES", "2048")
    api_async.service.cache_clear()
    big = copy.deepcopy(REFERENCE_BODY)
    big["messages"][0]["content"] = "word " * 2000
    _, created = aws.api("POST", "/v1/async", body=big)
    task_id = created["id"]
    aws.run_worker()
    task = aws.store.get("acme", internal_id(task_id))
    assert task.request_key
    assert aws.api("GET", f"/v1/async/{task_id}")[0] == 200

    status, body = aws.api("DELETE", f"/v1/async/{task_id}")
    assert (status, body) == (200, {"id": task_id, "deleted": True})
    for method, path in (("GET", f"/v1/async/{task_id}"), ("POST", f"/v1/async/{task_id}/cancel")):
        assert aws.api(method, path)[0] == 404
    assert aws.api("DELETE", f"/v1/async/{task_id}")[0] == 404
    assert aws.api("GET", "/v1/async")[1]["tasks"] == []
    objects = aws.s3.list_objects_v2(Bucket=aws.resources.bucket_name).get("Contents", [])
    assert [o["Key"] for o in objects if internal_id(task_id) in o["Key"]] == []
    # The record itself stays until its TTL, payload-free.
    kept = aws.store.get("acme", internal_id(task_id))
    assert kept.deleted_at and kept.request is None and kept.request_key is None


def test_deleting_a_running_task_cancels_it_first(aws):
    _, created = submit(aws)
    assert aws.api("DELETE", f"/v1/async/{created['id']}")[0] == 200
    assert aws.store.get("acme", internal_id(created["id"])).status == TaskStatus.CANCELLED
    aws.run_worker()  # the worker drops it
    assert aws.store.get("acme", internal_id(created["id"])).status == TaskStatus.CANCELLED
    assert aws.queue_depth() == 0


def test_another_tenant_cannot_delete(aws):
    _, created = submit(aws)
    assert aws.api("DELETE", f"/v1/async/{created['id']}", tenant="other")[0] == 404
    assert aws.api("GET", f"/v1/async/{created['id']}")[0] == 200


@pytest.mark.parametrize(
    "function, path, body, changed, id_field",
    [
        (
            "api_privategpt",
            "/v1/messages/async",
            {"messages": [{"role": "user", "content": "hi"}]},
            {"messages": [{"role": "user", "content": "bye"}]},
            "message_id",
        ),
        (
            "api_netmind",
            "/v1/generation",
            {"model": "demo-image", "config": {"prompt": "a"}},
            {"model": "demo-image", "config": {"prompt": "b"}},
            "id",
        ),
    ],
)
def test_every_surface_takes_an_idempotency_key(aws, function, path, body, changed, id_field):
    headers = {"Idempotency-Key": f"{function}-1"}
    _, first = aws.api("POST", path, body=body, headers=headers, function=function)
    status, again = aws.api("POST", path, body=body, headers=headers, function=function)
    assert status == 200 and again[id_field] == first[id_field]
    assert aws.queue_depth() == 1
    status, error = aws.api("POST", path, body=changed, headers=headers, function=function)
    assert status == 409 and error["error"]["code"] == "idempotency_conflict"
    # The key is per surface too: the same key on another surface is another request.
    status, error = aws.api("POST", "/v1/async", body=REFERENCE_BODY, headers=headers)
    assert status == 409


def test_delete_purges_the_event_log_the_whole_output_and_the_prompt(aws):
    status, created = aws.api("POST", "/v1/async", body=REFERENCE_BODY)
    assert status == 200
    aws.run_worker()
    task_id = internal_id(created["id"])
    assert aws.store.read_events("acme", task_id), "the task wrote its event log"
    status, _ = aws.api("DELETE", f"/v1/async/{created['id']}")
    assert status == 200
    assert aws.store.read_events("acme", task_id) == []
    left = aws.ddb.query(
        TableName=aws.resources.table_name,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": f"acme#{task_id}"}},
    )["Items"]
    assert left == []
