"""A batch's completion window through the real handlers on moto: the sweeper's due sends the batch job that fails
what is left `batch_expired`, a worker fails an item it claims past the window, and the batch ends `expired` with its
finished work kept, charged only for it, and nothing left reserved."""

import json
import time

import pytest

from asyncinfer.domain.model import now_ms
from asyncinfer.queue.base import BatchJob
from tests.conftest import load_event
from tests.integration.test_budgets import REGISTRY, budget, chat, usage
from tests.support.models_file import serve_models

pytestmark = pytest.mark.integration


def wait_past(deadline_s: int) -> None:
    """Until the window that ends at `deadline_s` (epoch seconds, as the surfaces show it) has ended."""
    time.sleep(max(0.0, deadline_s + 1 - now_ms() / 1000))


def file_lines(aws, key: str) -> list[dict]:
    body = aws.s3.get_object(Bucket=aws.resources.bucket_name, Key=key)["Body"].read().decode()
    return [json.loads(line) for line in body.splitlines()]


def test_the_window_ends_unfinished_items_expired_and_the_batch_keeps_and_charges_only_its_finished_work(
    aws, tmp_path, monkeypatch, capsys
):
    serve_models(REGISTRY, tmp_path, monkeypatch)
    budget(aws, capsys, "set", "--tenant", "acme", "--monthly", "1")
    items = [{"custom_id": f"r{i}", "body": chat(f"q{i}", "priced-chat", max_tokens=1)} for i in range(4)]
    body = {"endpoint": "/v1/chat/completions", "requests": items, "completion_window": "2s"}
    status, created = aws.api("POST", "/v1/batches", body=body, function="api_batches")
    assert status == 200, created
    assert created["expires_at"] in (created["created_at"] + 1, created["created_at"] + 2)
    assert created["retention_expires_at"] > created["expires_at"] + 86400
    assert usage(aws)["budgets"]["monthly"]["reserved"] > 0
    aws.run_queue("batch")  # the items made and queued in the batch lane
    # Two wait behind a backlog (their messages taken off the lane); the other two run in time.
    waiting = aws.sqs.receive_message(QueueUrl=aws.resources.batch_items_queue_url, MaxNumberOfMessages=2)
    assert len(waiting["Messages"]) == 2
    assert aws.run_worker() == 2
    aws.run_notifier()
    assert aws.functions.invoke("sweeper", load_event("sweeper_deadlines"))["late"] == 0

    wait_past(created["expires_at"])
    assert aws.functions.invoke("sweeper", load_event("sweeper_deadlines"))["late"] == 1
    job = BatchJob(tenant="acme", batch_id=created["id"]).model_dump_json()
    aws.sqs.send_message(QueueUrl=aws.resources.batch_queue_url, MessageBody=job)  # a second job: harmless
    assert aws.run_queue("batch") == 2
    aws.run_notifier()
    assert aws.functions.invoke("sweeper", load_event("sweeper_deadlines"))["late"] == 0  # one due per batch

    status, done = aws.api("GET", f"/v1/batches/{created['id']}", function="api_batches")
    assert done["status"] == "expired" and done["expired_at"] >= done["expires_at"], done
    assert done["request_counts"] == {
        "total": 4,
        "completed": 2,
        "failed": 0,
        "cancelled": 0,
        "expired": 2,
        "pending": 0,
    }
    key = f"batches/acme/{created['id'].removeprefix('batch_').replace('-', '')}"
    output, errors = file_lines(aws, f"{key}/output.jsonl"), file_lines(aws, f"{key}/errors.jsonl")
    assert len(output) == 2 and all(line["response"]["status_code"] == 200 for line in output)
    assert [line["error"]["code"] for line in errors] == ["batch_expired", "batch_expired"]
    assert {line["custom_id"] for line in output + errors} == {f"r{i}" for i in range(4)}
    results = file_lines(aws, f"{key}/results.jsonl")
    charged = sum(line["usage"]["cost"]["total_cost"] for line in results if line["status"] == "COMPLETED")
    monthly = usage(aws)["budgets"]["monthly"]
    assert monthly["reserved"] == 0 and monthly["spent"] == pytest.approx(charged) and charged > 0
    assert all("usage" not in line for line in results if line["status"] == "FAILED")


def test_a_worker_fails_an_item_it_claims_after_the_window_and_anthropics_batch_shows_it_expired(aws):
    requests = [
        {
            "custom_id": f"m{i}",
            "params": {"model": "demo-chat", "max_tokens": 50, "messages": [{"role": "user", "content": "hi"}]},
        }
        for i in range(2)
    ]
    body = {"requests": requests, "completion_window": "1s"}
    status, created = aws.api("POST", "/v1/messages/batches", body=body, function="api_batches")
    assert status == 200, created
    aws.run_queue("batch")
    time.sleep(1.1)  # the window (1 s from the submit) has ended before any worker claims an item
    assert aws.run_worker() == 2
    aws.run_notifier()
    status, done = aws.api("GET", f"/v1/messages/batches/{created['id']}", function="api_batches")
    assert done["processing_status"] == "ended", done
    assert done["request_counts"] == {"processing": 0, "succeeded": 0, "errored": 0, "canceled": 0, "expired": 2}
    batch_dir = f"batches/acme/{created['id'].removeprefix('msgbatch_')}"
    lines = file_lines(aws, f"{batch_dir}/anthropic-results.jsonl")
    assert sorted((line["custom_id"], line["result"]) for line in lines) == [
        ("m0", {"type": "expired"}),
        ("m1", {"type": "expired"}),
    ]
