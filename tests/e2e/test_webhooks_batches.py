"""Webhooks, batches and scheduled batches on the real local stack: its queues, its table stream, its
functions, over HTTP; a real webhook receiver checks signatures with the standardwebhooks library."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from standardwebhooks.webhooks import Webhook

from tests.e2e.conftest import start_stack, stop_stack, wait_for
from tests.support.webhook_receiver import WebhookReceiver

pytestmark = pytest.mark.e2e

MAX_ATTEMPTS = 3


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """A stack of its own: fast demo models, few webhook attempts, its own settings file for the CLI."""
    stack_file = tmp_path_factory.mktemp("stack") / "local.json"
    running = start_stack(
        ASYNCINFER_DEMO_CHAT_SECONDS="0.05",
        ASYNCINFER_WEBHOOK_MAX_ATTEMPTS=str(MAX_ATTEMPTS),
        ASYNCINFER_STACK_FILE=str(stack_file),
    )
    running.stack_file = stack_file
    yield running
    stop_stack(running)


def chat(text: str, model: str = "demo-chat", **extra) -> dict:
    return {"model": model, "messages": [{"role": "user", "content": text}], **extra}


def deliveries(client: httpx.Client, task_id: str) -> list[dict]:
    response = client.get("/v1/webhooks/deliveries", params={"task_id": task_id})
    assert response.status_code == 200, response.text
    return response.json()["data"]


def ended(client: httpx.Client, task_id: str) -> dict | None:
    """The task's one delivery once it is no longer being attempted."""
    found = deliveries(client, task_id)
    return found[0] if found and found[0]["status"] != "pending" else None


def test_each_terminal_task_gets_one_correctly_signed_event(stack):
    with WebhookReceiver() as receiver, stack.client() as client:
        hook = {"url": receiver.url}
        completed = client.post("/v1/async", json=chat("hello", webhook=hook)).json()
        failed = client.post("/v1/async", json=chat("x", model="demo-fail", webhook=hook)).json()
        cancelled = client.post("/v1/async", json=chat("long " * 50, webhook=hook)).json()
        assert client.post(f"/v1/async/{cancelled['id']}/cancel").status_code == 200
        tasks = {"task.completed": completed["id"], "task.failed": failed["id"], "task.cancelled": cancelled["id"]}
        for task_id in tasks.values():
            assert wait_for(lambda t=task_id: ended(client, t), what="the delivery")["status"] == "delivered"
        secret = client.get("/v1/webhooks/secret").json()["secret"]
    hits = receiver.received
    assert len(hits) == 3, [h.headers["webhook-id"] for h in hits]
    events = {}
    for hit in hits:
        payload = Webhook(secret).verify(hit.body, hit.headers)
        events[payload["type"]] = payload["data"]["id"]
        assert hit.headers["webhook-id"].endswith(payload["type"].replace(".", "_"))
    assert events == tasks


def test_a_failing_receiver_is_retried_with_the_same_webhook_id_then_recorded_as_failed(stack):
    with WebhookReceiver(statuses=[500]) as receiver, stack.client() as client:
        task = client.post("/v1/async", json=chat("hi", webhook={"url": receiver.url})).json()
        delivery = wait_for(lambda: ended(client, task["id"]), timeout=60, what="the retries to run out")
        secret = client.get("/v1/webhooks/secret").json()["secret"]
    assert delivery["status"] == "failed" and delivery["attempt_count"] == MAX_ATTEMPTS
    assert [a["status_code"] for a in delivery["attempts"]] == [500] * MAX_ATTEMPTS
    hits = receiver.received
    assert len(hits) == MAX_ATTEMPTS
    assert {h.headers["webhook-id"] for h in hits} == {delivery["id"]}
    for hit in hits:
        assert Webhook(secret).verify(hit.body, hit.headers)["data"]["id"] == task["id"]


@pytest.mark.timeout(300)  # about a minute here; the emulator runs every table and queue call in one process
def test_a_500_item_batch_completes_with_one_result_line_per_custom_id_and_right_counts(stack):
    requests = [{"custom_id": f"row-{i:03d}", "body": chat(f"question {i}")} for i in range(495)]
    requests += [{"custom_id": f"bad-{i}", "body": chat("x", model="demo-fail")} for i in range(5)]
    with stack.client(timeout=60) as client:
        response = client.post("/v1/batches", json={"requests": requests, "metadata": {"run": "e2e"}})
        assert response.status_code == 200, response.text
        batch = response.json()
        assert batch["request_counts"]["total"] == 500

        def finished():
            current = client.get(f"/v1/batches/{batch['id']}").json()
            return current if current["status"] == "completed" else None

        done = wait_for(finished, timeout=240, interval=0.5, what="the batch to complete")
        assert done["request_counts"] == {
            "total": 500,
            "completed": 495,
            "failed": 5,
            "cancelled": 0,
            "expired": 0,
            "pending": 0,
        }
        results = httpx.get(done["results_url"], timeout=30)
    assert results.status_code == 200
    lines = [json.loads(line) for line in results.text.splitlines()]
    assert [line["custom_id"] for line in lines] == [r["custom_id"] for r in requests]
    for line in lines:
        if line["custom_id"].startswith("row-"):
            assert line["status"] == "COMPLETED" and line["response"]["choices"][0]["message"]["content"]
        else:
            assert line["status"] == "FAILED" and line["error"]["code"]


def test_duplicate_custom_ids_are_refused_over_http(stack):
    with stack.client() as client:
        body = {"requests": [{"custom_id": "a", "body": chat("x")}, {"custom_id": "a", "body": chat("y")}]}
        response = client.post("/v1/batches", json=body)
    assert response.status_code == 400 and response.json()["error"]["code"] == "duplicate_custom_id"


def test_an_uploaded_jsonl_file_runs_as_a_batch(stack):
    lines = "".join(json.dumps({"custom_id": f"u{i}", "body": chat(f"q{i}")}) + "\n" for i in range(5))
    with stack.client() as client:
        upload = client.post("/v1/batches/uploads").json()
        files = {"file": ("batch.jsonl", lines.encode(), "application/x-ndjson")}
        post = httpx.post(upload["upload_url"], data=upload["fields"], files=files, timeout=30)
        assert post.status_code in (200, 204), post.text
        batch = client.post("/v1/batches", json={"input_file": upload["input_file"]}).json()
        done = wait_for(
            lambda: (b := client.get(f"/v1/batches/{batch['id']}").json())["status"] == "completed" and b,
            timeout=60,
            what="the uploaded batch",
        )
    assert done["request_counts"]["completed"] == 5


def test_schedule_run_submits_the_schedules_batch_as_the_batch_function_does(stack):
    cli = Path(sys.executable).with_name("asyncinfer")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "ASYNCINFER_"))}
    env["ASYNCINFER_STACK_FILE"] = str(stack.stack_file)
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [str(cli), "schedule", "run", "nightly-summaries"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    batch = json.loads(done.stdout[done.stdout.index("{") :])
    assert batch["schedule"] == "nightly-summaries" and batch["request_counts"]["total"] == 3
    # The schedule's tenant is the dev tenant: the dev key sees its batch run to the end.
    with stack.client() as client:
        finished = wait_for(
            lambda: (b := client.get(f"/v1/batches/{batch['id']}").json())["status"] == "completed" and b,
            timeout=60,
            what="the scheduled batch",
        )
    assert finished["request_counts"]["completed"] == 3
