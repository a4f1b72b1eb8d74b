"""Batches through the real handlers: the API, the batch function, the worker, the table stream's notifier."""

import base64
import json

import pytest
from standardwebhooks.webhooks import Webhook

from asyncinfer.blobs.base import result_key
from asyncinfer.domain.batches import item_task_id
from asyncinfer.domain.model import TaskStatus, now_ms
from asyncinfer.handlers import notifier
from asyncinfer.surfaces import async_api
from tests.conftest import load_event
from tests.support.webhook_receiver import WebhookReceiver

pytestmark = pytest.mark.integration


def chat(text: str, model: str = "demo-chat") -> dict:
    return {"model": model, "messages": [{"role": "user", "content": text}]}


def items(n: int, model: str = "demo-chat") -> list[dict]:
    return [{"custom_id": f"req-{i}", "body": chat(f"question {i}", model)} for i in range(n)]


def create(aws, body: dict, tenant: str = "acme", **kwargs) -> tuple[int, dict]:
    return aws.api("POST", "/v1/batches", body=body, tenant=tenant, function="api_batches", **kwargs)


def get(aws, batch_id: str, tenant: str = "acme") -> dict:
    status, batch = aws.api("GET", f"/v1/batches/{batch_id}", tenant=tenant, function="api_batches")
    assert status == 200, batch
    return batch


def run_all(aws) -> None:
    """What the event sources would do until nothing is left: make items, run them, count their endings."""
    while aws.run_queue("batch") + aws.run_worker() + aws.run_notifier():
        pass


def results(aws, batch: dict) -> list[dict]:
    key = f"batches/acme/{batch['id'].removeprefix('batch_').replace('-', '')}/results.jsonl"
    assert key in batch["results_url"]
    body = aws.s3.get_object(Bucket=aws.resources.bucket_name, Key=key)["Body"].read().decode()
    return [json.loads(line) for line in body.splitlines()]


def test_a_batch_runs_every_item_and_writes_one_result_line_per_custom_id(aws):
    requests = [*items(6), {"custom_id": "bad-one", "body": chat("x", "demo-fail")}]
    status, batch = create(aws, {"requests": requests, "metadata": {"job": "t"}})
    assert status == 200, batch
    assert batch["status"] == "in_progress" and batch["request_counts"]["total"] == 7
    run_all(aws)
    done = get(aws, batch["id"])
    assert done["status"] == "completed"
    assert done["request_counts"] == {
        "total": 7,
        "completed": 6,
        "failed": 1,
        "cancelled": 0,
        "expired": 0,
        "pending": 0,
    }
    lines = results(aws, done)
    assert [line["custom_id"] for line in lines] == [r["custom_id"] for r in requests]
    by_id = {line["custom_id"]: line for line in lines}
    assert by_id["req-3"]["status"] == "COMPLETED" and by_id["req-3"]["error"] is None
    assert by_id["req-3"]["response"]["choices"][0]["message"]["content"]
    assert by_id["bad-one"]["status"] == "FAILED" and by_id["bad-one"]["error"]["code"]
    # Each item is an ordinary task too.
    status, task = aws.api("GET", f"/v1/async/{by_id['req-0']['id']}")
    assert status == 200 and task["status"] == "COMPLETED"


def test_duplicate_custom_ids_are_refused_and_nothing_is_made(aws):
    requests = [*items(3), {"custom_id": "req-1", "body": chat("again")}]
    status, body = create(aws, {"requests": requests})
    assert status == 400 and body["error"]["code"] == "duplicate_custom_id"
    assert "requests 2 and 4" in body["error"]["message"]
    assert aws.queue_depth(aws.resources.batch_queue_url) == 0
    assert aws.s3.list_objects_v2(Bucket=aws.resources.bucket_name).get("KeyCount", 0) == 0
    status, listing = aws.api("GET", "/v1/batches", function="api_batches")
    assert status == 200 and listing["data"] == []


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"requests": []}, "requests"),
        ({}, "exactly one of requests"),
        ({"requests": [{"custom_id": "a", "body": chat("x", "no-such-model")}]}, "request 1 (a)"),
        ({"requests": [{"custom_id": "a", "body": {"model": "demo-chat"}}]}, "messages"),
        ({"requests": [{"body": chat("x")}]}, "custom_id"),
        ({"requests": items(1), "endpoint": "/v1/other"}, "endpoint"),
        ({"requests": items(1), "webhook": {"url": "https://h.example.com", "events": ["task.completed"]}}, "event"),
    ],
)
def test_a_bad_batch_is_a_400(aws, body, message):
    status, answer = create(aws, body)
    assert status == 400 and message in answer["error"]["message"], answer
    assert aws.queue_depth(aws.resources.batch_queue_url) == 0


def test_too_many_items_are_refused(aws, monkeypatch):
    monkeypatch.setenv("ASYNCINFER_MAX_BATCH_ITEMS", "5")
    status, answer = create(aws, {"requests": items(6)})
    assert status == 400 and "limit is 5" in answer["error"]["message"]


def test_running_a_batch_job_again_makes_nothing_twice(aws):
    status, batch = create(aws, {"requests": items(12)})
    assert status == 200, batch
    aws.run_queue("batch")
    assert aws.queue_depth(aws.resources.batch_items_queue_url) == 12 and aws.queue_depth() == 0
    job = load_event("batch_sqs")
    job["Records"][0]["body"] = json.dumps(
        {"tenant": "acme", "batch_id": batch["id"].removeprefix("batch_").replace("-", "")}
    )
    assert aws.functions.invoke("batch", job) == {"batchItemFailures": []}
    # No task twice; every item still waiting is queued again (a duplicate message is harmless), so an
    # item never depends on the sweeper after a job that died midway.
    assert aws.queue_depth(aws.resources.batch_items_queue_url) == 24
    run_all(aws)
    assert get(aws, batch["id"])["request_counts"]["completed"] == 12
    assert len(aws.store.list("acme", limit=100, after=None, status=None).tasks) == 12


def test_cancelling_a_batch_cancels_its_unfinished_items_and_ends_it(aws):
    status, batch = create(aws, {"requests": items(5)})
    aws.run_queue("batch")  # the items exist and are queued, none has run
    status, cancelling = aws.api("POST", f"/v1/batches/{batch['id']}/cancel", function="api_batches")
    assert status == 200 and cancelling["status"] == "cancelling"
    run_all(aws)
    done = get(aws, batch["id"])
    assert done["status"] == "cancelled"
    assert done["request_counts"] == {
        "total": 5,
        "completed": 0,
        "failed": 0,
        "cancelled": 5,
        "expired": 0,
        "pending": 0,
    }
    assert {line["status"] for line in results(aws, done)} == {"CANCELLED"}
    status, again = aws.api("POST", f"/v1/batches/{batch['id']}/cancel", function="api_batches")
    assert status == 409 and again["error"]["code"] == "batch_ended"


def test_a_batch_cancelled_before_its_items_were_made_ends_cancelled(aws):
    status, batch = create(aws, {"requests": items(4)})
    assert status == 200, batch
    status, _ = aws.api("POST", f"/v1/batches/{batch['id']}/cancel", function="api_batches")
    assert status == 200
    run_all(aws)
    done = get(aws, batch["id"])
    assert done["status"] == "cancelled" and done["request_counts"]["cancelled"] == 4
    assert aws.queue_depth(aws.resources.batch_items_queue_url) == 0  # no item was ever sent to a worker


def test_an_uploaded_input_file_is_read_and_another_tenants_is_refused(aws):
    status, upload = aws.api("POST", "/v1/batches/uploads", function="api_batches")
    assert status == 200 and upload["input_file"].startswith(f"s3://{aws.resources.bucket_name}/uploads/acme/")
    key = upload["input_file"].split("/", 3)[3]
    # A POST policy (S3 enforces it; the emulator does not): this key, this type, at most the input limit.
    policy = json.loads(base64.b64decode(upload["fields"]["policy"]))
    assert ["content-length-range", 1, upload["max_bytes"]] in policy["conditions"]
    assert {"key": key} in policy["conditions"] and {"Content-Type": "application/x-ndjson"} in policy["conditions"]
    assert upload["method"] == "POST" and upload["max_bytes"] == 100 * 1024 * 1024
    lines = "\n".join(json.dumps(item) for item in items(3)) + "\n"
    aws.s3.put_object(Bucket=aws.resources.bucket_name, Key=key, Body=lines.encode())
    status, refused = create(aws, {"input_file": upload["input_file"]}, tenant="intruder")
    assert status == 400 and refused["error"]["code"] == "invalid_batch"
    status, elsewhere = create(aws, {"input_file": "s3://someone-elses-bucket/data.jsonl"})
    assert status == 400 and "someone-elses-bucket" in elsewhere["error"]["message"]
    status, batch = create(aws, {"input_file": upload["input_file"]})
    assert status == 200 and batch["request_counts"]["total"] == 3
    run_all(aws)
    assert [line["custom_id"] for line in results(aws, get(aws, batch["id"]))] == ["req-0", "req-1", "req-2"]


def test_an_idempotency_key_answers_with_the_first_batch(aws):
    body = {"requests": items(2)}
    first = create(aws, body, headers={"Idempotency-Key": "nightly-1"})[1]
    again = create(aws, body, headers={"Idempotency-Key": "nightly-1"})[1]
    assert again["id"] == first["id"]
    status, other = create(aws, {"requests": items(3)}, headers={"Idempotency-Key": "nightly-1"})
    assert status == 409 and other["error"]["code"] == "idempotency_conflict"
    assert aws.queue_depth(aws.resources.batch_queue_url) == 1


def test_a_scheduled_invocation_delivered_twice_submits_one_batch(aws):
    event = load_event("batch_schedule")
    first = aws.functions.invoke("batch", event)
    second = aws.functions.invoke("batch", event)
    assert first["id"] == second["id"] and first["schedule"] == "nightly-summaries"
    event["scheduled_time"] = "2026-11-23T02:00:00Z"
    assert aws.functions.invoke("batch", event)["id"] != first["id"]


def test_the_batch_webhook_hears_once_that_the_batch_ended(aws):
    with WebhookReceiver() as receiver:
        status, batch = create(aws, {"requests": items(3), "webhook": {"url": receiver.url}})
        run_all(aws)
        aws.run_queue("webhook_sender")
        [hit] = receiver.wait_for(1)
    status, secret = aws.api("GET", "/v1/webhooks/secret", function="api_webhooks")
    assert status == 200
    payload = Webhook(secret["secret"]).verify(hit.body, hit.headers)
    assert payload["type"] == "batch.completed" and payload["data"]["id"] == batch["id"]
    assert payload["data"]["request_counts"]["completed"] == 3
    status, listing = aws.api(
        "GET", "/v1/webhooks/deliveries", query={"batch_id": batch["id"]}, function="api_webhooks"
    )
    assert [d["event_type"] for d in listing["data"]] == ["batch.completed"]


def test_batches_list_newest_first_and_page(aws):
    made = [create(aws, {"requests": items(1)})[1]["id"] for _ in range(3)]
    status, page = aws.api("GET", "/v1/batches", query={"limit": "2"}, function="api_batches")
    assert status == 200 and [b["id"] for b in page["data"]] == made[::-1][:2] and page["has_more"]
    status, rest = aws.api(
        "GET", "/v1/batches", query={"limit": "2", "cursor": page["next_cursor"]}, function="api_batches"
    )
    assert [b["id"] for b in rest["data"]] == made[:1]


def test_a_batch_does_not_use_up_the_tenants_in_flight_quota(aws, monkeypatch):
    monkeypatch.setenv("ASYNCINFER_MAX_INFLIGHT_TASKS", "3")
    status, batch = create(aws, {"requests": items(8)})
    assert status == 200, batch
    aws.run_queue("batch")
    assert aws.queue_depth(aws.resources.batch_items_queue_url) == 8  # all eight queued, none has run
    status, task = aws.api("POST", "/v1/async", body=chat("interactive"))
    assert status == 200, task


def test_a_notifier_that_fails_while_finishing_is_retried_and_counts_each_item_once(aws):
    tracker = notifier.endings().tracker
    finish = tracker.finish
    failures = []

    def flaky_finish(batch):
        if not failures:
            failures.append(batch.id)
            raise TimeoutError("S3 did not answer")
        return finish(batch)

    tracker.finish = flaky_finish
    status, batch = create(aws, {"requests": items(4)})
    assert status == 200, batch
    run_all(aws)
    assert failures
    done = get(aws, batch["id"])
    assert done["status"] == "completed"
    assert done["request_counts"] == {
        "total": 4,
        "completed": 4,
        "failed": 0,
        "cancelled": 0,
        "expired": 0,
        "pending": 0,
    }
    assert len(results(aws, done)) == 4


def test_when_the_batch_queue_refuses_the_job_nothing_is_kept_and_the_key_is_free(aws):
    from asyncinfer.handlers import api_batches

    jobs = api_batches.batches().jobs
    send = jobs.send

    def refuse(message):
        raise ConnectionError("SQS unreachable")

    jobs.send = refuse
    status, body = create(aws, {"requests": items(2)}, headers={"Idempotency-Key": "once"})
    assert status == 503 and body["error"]["code"] == "service_unavailable"
    status, listing = aws.api("GET", "/v1/batches", function="api_batches")
    assert listing["data"] == []
    jobs.send = send
    status, batch = create(aws, {"requests": items(2)}, headers={"Idempotency-Key": "once"})
    assert status == 200 and batch["request_counts"]["total"] == 2


def test_finishing_a_large_batch_writes_its_results_in_parts_in_input_order(aws):
    """600 items whose results (64 KiB each, in S3) add up to 38 MiB: the results file goes up as a
    multipart upload from items read a page at a time; every line in input order, exactly once."""
    count, result_bytes = 600, 64 * 1024
    status, batch = create(aws, {"requests": items(count)})
    assert status == 200, batch
    aws.run_queue("batch")
    batch_id = batch["id"].removeprefix("batch_").replace("-", "")
    for index in range(count):
        task_id = item_task_id(batch_id, index)
        key = result_key("acme", task_id)
        body = json.dumps({"choices": [{"message": {"content": "x" * result_bytes}}], "n": index})
        aws.s3.put_object(Bucket=aws.resources.bucket_name, Key=key, Body=body.encode())
        aws.store.transition(
            "acme",
            task_id,
            expect={TaskStatus.CREATED},
            changes={"status": TaskStatus.COMPLETED, "completed_at": now_ms(), "result_key": key},
        )
    tracker = notifier.endings().tracker
    finished = tracker.finish(tracker.store.get_batch("acme", batch_id))
    assert finished.status == "completed"
    key = f"batches/acme/{batch_id}/results.jsonl"
    body = aws.s3.get_object(Bucket=aws.resources.bucket_name, Key=key)["Body"].read()
    lines = [json.loads(line) for line in body.splitlines()]
    assert [line["custom_id"] for line in lines] == [f"req-{i}" for i in range(count)]
    assert [line["response"]["n"] for line in lines] == list(range(count))
    assert len(body) > count * result_bytes  # several multipart parts (tests/unit measures the memory)


def test_a_batchs_reads_show_its_progress(aws):
    status, batch = create(aws, {"requests": items(3)})
    assert status == 200, batch
    assert batch["progress"] == {"step": 0, "steps": 3, "percent": 0.0}
    aws.run_queue("batch")  # the items exist and are queued, none has run
    first = item_task_id(batch["id"].removeprefix("batch_").replace("-", ""), 0)
    assert aws.api("POST", f"/v1/async/{async_api.public_id(first)}/cancel")[0] == 200
    aws.run_notifier()
    midway = get(aws, batch["id"])
    assert midway["status"] == "in_progress" and midway["progress"] == {"step": 1, "steps": 3, "percent": 33.3}
    run_all(aws)
    done = get(aws, batch["id"])
    assert done["progress"] == {"step": 3, "steps": 3, "percent": 100.0}
    _, listing = aws.api("GET", "/v1/batches", function="api_batches")
    assert listing["data"][0]["progress"] == done["progress"]


def test_an_openai_batch_with_its_progress_is_still_openais_batch_object(aws):
    from openai.types import Batch as OpenAIBatch

    from tests.integration.test_files import jsonl, line, openai_batch, upload

    _, file = upload(aws, jsonl([line("a"), line("b")]))
    status, batch = openai_batch(aws, file["id"])
    assert status == 200, batch
    OpenAIBatch.model_validate(batch)
    run_all(aws)
    done = get(aws, batch["id"])
    parsed = OpenAIBatch.model_validate(done)  # an extra field, kept as one
    assert parsed.request_counts is not None and parsed.request_counts.completed == 2
    assert parsed.model_extra is not None and parsed.model_extra["progress"] == {
        "step": 2,
        "steps": 2,
        "percent": 100.0,
    }
