"""A batch's failed items run again (POST /v1/batches/{id}/retry) through the real handlers on moto: only they run,
as new tasks of round 1, with their reservation held and then settled; the batch keeps its id and ends with
coherent counts and files; a second retry racing the first, and an old round's ending told again, change nothing."""

import json
import uuid

import pytest

from asyncinfer.domain.batches import item_task_id
from asyncinfer.providers.base import ProviderError
from asyncinfer.queue.base import TaskMessage
from asyncinfer.store.dynamodb_records import DynamoBatchStore
from asyncinfer.surfaces import openai_batches as view
from asyncinfer.tasks.outcomes import Outcome, RetryLater
from tests.integration.test_batch_window import file_lines
from tests.integration.test_batches import get, results, run_all
from tests.integration.test_budgets import REGISTRY as BUDGETS_REGISTRY
from tests.integration.test_budgets import budget, chat, make_worker, usage
from tests.integration.test_worker import LONG, ScriptedProvider
from tests.support.models_file import serve_models
from tests.support.webhook_receiver import WebhookReceiver

pytestmark = pytest.mark.integration

PRICES = {"input_per_million": 3.0, "output_per_million": 15.0}
REGISTRY = {
    "version": 1,
    "default_chat_model": "good",
    "models": {
        "good": {"provider": "local", "upstream": "demo-chat", "kind": "chat", "prices": PRICES},
        # Fails a prompt the first time it sees it, answers it afterwards (the state is this process's).
        "flaky": {"provider": "local", "upstream": "demo-fail-once", "kind": "chat", "prices": PRICES},
    },
}


def retry(aws, batch_id: str, body: dict | None = None, tenant: str = "acme") -> tuple[int, dict]:
    sent = {} if body is None else body
    return aws.api("POST", f"/v1/batches/{batch_id}/retry", body=sent, tenant=tenant, function="api_batches")


def line(custom_id: str, model: str) -> dict:
    # A prompt no earlier test sent: demo-fail-once remembers the prompts it failed.
    body = {"model": model, "messages": [{"role": "user", "content": f"{custom_id} {uuid.uuid4()}"}], "max_tokens": 1}
    return {"custom_id": custom_id, "body": body}


def test_a_retry_runs_only_the_failed_items_again_and_the_batch_ends_coherent(aws, tmp_path, monkeypatch, capsys):
    serve_models(REGISTRY, tmp_path, monkeypatch)
    budget(aws, capsys, "set", "--tenant", "acme", "--monthly", "1")
    requests = [line(f"ok-{i}", "good") for i in range(2)] + [line(f"flaky-{i}", "flaky") for i in range(2)]
    body = {"endpoint": "/v1/chat/completions", "requests": requests}
    status, batch = aws.api("POST", "/v1/batches", body=body, function="api_batches")
    assert status == 200, batch
    assert retry(aws, batch["id"])[1]["error"]["code"] == "batch_not_ended"
    run_all(aws)
    first = get(aws, batch["id"])
    assert first["status"] == "completed" and first["request_counts"]["failed"] == 2, first
    assert first["error_file_id"] and usage(aws)["budgets"]["monthly"]["reserved"] == 0
    internal = view.internal_id(batch["id"])
    failed_round_0 = aws.store.get("acme", item_task_id(internal, 2))
    assert failed_round_0.status.value == "FAILED"

    status, retried = retry(aws, batch["id"])
    assert status == 200, retried
    assert retried["id"] == batch["id"] and retried["status"] == "in_progress"
    assert retried["output_file_id"] is None and retried["error_file_id"] is None and retried["ended_at"] is None
    counts = retried["request_counts"]
    assert (counts["completed"], counts["failed"], counts["pending"]) == (2, 0, 2), counts
    assert usage(aws)["budgets"]["monthly"]["reserved"] > 0  # the retried items' shares, held again
    # A second retry while the first runs is refused, and changes nothing.
    status, again = retry(aws, batch["id"], {"include_expired": True})
    assert (status, again["error"]["code"]) == (400, "batch_not_ended"), again
    # The old round's failure told again (a re-delivered stream record) does not count its line again.
    batches = DynamoBatchStore(aws.ddb, aws.resources.table_name)
    assert batches.count_item(failed_round_0) is None
    assert get(aws, batch["id"])["request_counts"]["failed"] == 0

    run_all(aws)
    done = get(aws, batch["id"])
    assert done["status"] == "completed", done
    counts = done["request_counts"]
    assert (counts["total"], counts["completed"], counts["failed"], counts["pending"]) == (4, 4, 0, 0), counts
    assert done["error_file_id"] is None and done["output_file_id"]
    # Only the two failed lines ran again, as new tasks of round 1; the old ones are unchanged.
    assert [aws.store.get("acme", item_task_id(internal, index, 1)) for index in (0, 1)] == [None, None]
    again_tasks = [aws.store.get("acme", item_task_id(internal, index, 1)) for index in (2, 3)]
    assert all(task.status.value == "COMPLETED" and task.batch_round == 1 for task in again_tasks)
    assert aws.store.get("acme", item_task_id(internal, 2)).status.value == "FAILED"
    lines = results(aws, done)
    assert [entry["status"] for entry in lines] == ["COMPLETED"] * 4
    assert [entry["custom_id"] for entry in lines] == [r["custom_id"] for r in requests]
    key = f"batches/acme/{internal}"
    output = file_lines(aws, f"{key}/output.jsonl")
    assert sorted(entry["custom_id"] for entry in output) == sorted(r["custom_id"] for r in requests)
    monthly = usage(aws)["budgets"]["monthly"]
    charged = sum(entry["usage"]["cost"]["total_cost"] for entry in lines)
    assert monthly["reserved"] == 0 and monthly["spent"] == pytest.approx(charged) and charged > 0
    # The results so far: every ending, the old round's failures as history, then their round-1 endings.
    status, page = aws.api("GET", f"/v1/batches/{batch['id']}/results", query={"limit": "100"}, function="api_batches")
    assert status == 200, page
    ends = [(entry["custom_id"], entry["status"], entry.get("round", 0)) for entry in page["data"]]
    round_0 = [("ok-0", "COMPLETED", 0), ("ok-1", "COMPLETED", 0), ("flaky-0", "FAILED", 0), ("flaky-1", "FAILED", 0)]
    assert sorted(ends) == sorted([*round_0, ("flaky-0", "COMPLETED", 1), ("flaky-1", "COMPLETED", 1)])
    assert {c for c, status, _ in ends if status == "COMPLETED"} == {entry["custom_id"] for entry in output}

    status, nothing = retry(aws, batch["id"])
    assert (status, nothing["error"]["code"]) == (400, "nothing_to_retry"), nothing
    round_file = aws.s3.get_object(Bucket=aws.resources.bucket_name, Key=f"{key}/round-1.json")["Body"].read()
    assert json.loads(round_file) == [2, 3]


def test_a_cancelled_batch_is_not_retried(aws):
    status, batch = aws.api("POST", "/v1/batches", body={"requests": [line("a", "demo-chat")]}, function="api_batches")
    assert status == 200, batch
    assert aws.api("POST", f"/v1/batches/{batch['id']}/cancel", function="api_batches")[0] == 200
    run_all(aws)
    assert get(aws, batch["id"])["status"] == "cancelled"
    status, refused = retry(aws, batch["id"])
    assert (status, refused["error"]["code"]) == (409, "batch_not_retryable"), refused


def test_each_round_of_a_retried_batch_announces_its_end(aws):
    with WebhookReceiver() as receiver:
        body = {"requests": [line("f", "demo-fail-once")], "webhook": {"url": receiver.url}}
        status, batch = aws.api("POST", "/v1/batches", body=body, function="api_batches")
        assert status == 200, batch
        run_all(aws)
        aws.run_queue("webhook_sender")
        assert retry(aws, batch["id"])[0] == 200
        run_all(aws)
        aws.run_queue("webhook_sender")
        hits = receiver.wait_for(2)
    counts = [json.loads(hit.body)["data"]["request_counts"] for hit in hits]
    assert sorted((c["completed"], c["failed"]) for c in counts) == [(0, 1), (1, 0)]
    query = {"batch_id": batch["id"]}
    status, listing = aws.api("GET", "/v1/webhooks/deliveries", query=query, function="api_webhooks")
    assert status == 200 and len(listing["data"]) == 2
    for delivery in listing["data"]:
        status, read = aws.api("GET", f"/v1/webhooks/deliveries/{delivery['id']}", function="api_webhooks")
        assert status == 200 and read["status"] == "delivered", read


def test_a_batchs_retry_policy_gives_its_items_fewer_attempts_on_transient_errors(aws, tmp_path, monkeypatch):
    serve_models(BUDGETS_REGISTRY, tmp_path, monkeypatch)
    transient = ProviderError("upstream_unavailable", "503 from upstream", retryable=True)
    ids = []
    for retry_policy in ({"retry": {"max_attempts": 1}}, {}):
        body = {"requests": [{"custom_id": "a", "body": chat("hello")}], **retry_policy}
        status, batch = aws.api("POST", "/v1/batches", body=body, function="api_batches")
        assert status == 200, batch
        assert batch.get("retry") == retry_policy.get("retry")
        ids.append(item_task_id(view.internal_id(batch["id"]), 0))
    aws.run_queue("batch")
    worker = make_worker(aws, ScriptedProvider(fail=transient))
    # With one attempt at most, the first transient error ends the item; without a policy it comes back later.
    assert worker.process(TaskMessage(tenant="acme", task_id=ids[0]), remaining_ms=lambda: LONG) == Outcome.FAILED
    failed = aws.store.get("acme", ids[0])
    assert failed.max_attempts == 1 and failed.error.code == "upstream_unavailable"
    with pytest.raises(RetryLater):
        worker.process(TaskMessage(tenant="acme", task_id=ids[1]), remaining_ms=lambda: LONG)
    assert aws.store.get("acme", ids[1]).max_attempts is None


@pytest.mark.parametrize("policy", [{"max_attempts": 0}, {"max_attempts": 11}, {"max_attempts": "2"}, {"tries": 2}])
def test_a_retry_policy_out_of_bounds_is_refused(aws, policy):
    body = {"requests": [{"custom_id": "a", "body": chat("hello", "demo-chat")}], "retry": policy}
    status, refused = aws.api("POST", "/v1/batches", body=body, function="api_batches")
    assert status == 400 and "retry" in refused["error"]["message"], refused
