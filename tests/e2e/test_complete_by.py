"""Acceptance 5 of issue 34 on the local stack, through OpenAI's own SDK: a batch that says `complete_by` instead of a
tier. Its 20 items of 1 s go up in the demo Bedrock batch job, which takes 30 s (and says so: the model's
`batch.expected_seconds`); on-demand runs 20 side by side (ASYNCINFER_DEFAULT_LANE_SLOTS), a 2x margin and more.
- `complete_by` 10 s: the job cannot end in time, so every item escalates to on-demand and ends by the deadline;
- `complete_by` 60 s: the job ends in time, so every item takes the batch path at half the price.
Both report what they cost, what they would have cost on demand, and the saving."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import httpx
import openai
import pytest

from tests.e2e.conftest import start_stack, stop_stack, wait_for
from tests.e2e.test_provider_batch import jobs_made
from tests.support.webhook_receiver import WebhookReceiver

pytestmark = pytest.mark.e2e
PRICED = Path(__file__).resolve().parents[2] / "functions/asyncinfer/models.priced.json"
ITEMS = 20


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    registry = json.loads(PRICED.read_text())
    registry["models"]["demo-batch-bedrock"]["batch"]["expected_seconds"] = 30
    models = tmp_path_factory.mktemp("complete_by") / "models.json"
    models.write_text(json.dumps(registry))
    running = start_stack(
        ASYNCINFER_MODELS_FILE=str(models),
        ASYNCINFER_DEMO_BATCH_SECONDS="30",
        ASYNCINFER_DEMO_CHAT_SECONDS="1",
        ASYNCINFER_DEFAULT_LANE_SLOTS="20",
        # Deltas stored twice a second, not ten times (the e2e default): twenty streams' flushes would take the one
        # emulator process's every turn on a slow machine, and the items' ends with them.
        ASYNCINFER_FLUSH_SECONDS="0.5",
    )
    try:
        yield running
    finally:
        stop_stack(running)


def run(stack, tmp_path, tenant: str, complete_by: str, webhook: str | None = None) -> tuple[openai.OpenAI, dict]:
    client = openai.OpenAI(base_url=f"{stack.url}/v1", api_key=stack.new_key(tenant), max_retries=0)
    lines = [
        {
            "custom_id": f"item-{i}",
            "method": "POST",
            "url": "/v1/chat/completions",
            "body": {"model": "demo-batch-bedrock", "messages": [{"role": "user", "content": f"Question {i}"}]},
        }
        for i in range(ITEMS)
    ]
    path = tmp_path / f"{tenant}.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    with path.open("rb") as handle:
        uploaded = client.files.create(file=handle, purpose="batch")
    extra: dict = {"complete_by": complete_by}
    if webhook is not None:
        extra["webhook"] = {"url": webhook}
    batch = client.batches.create(
        input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="24h", extra_body=extra
    )
    done = wait_for(
        lambda: (b := client.batches.retrieve(batch.id)).status in ("completed", "failed", "expired") and b,
        timeout=120,
        interval=0.25,
        what="the batch to end",
    )
    assert done.status == "completed" and done.request_counts.completed == ITEMS, done
    return client, done.model_dump()


def ended_ats(stack, client: openai.OpenAI, batch_id: str) -> dict[str, int]:
    """Every item's end (epoch ms), from the batch's results read page by page."""
    ends: dict[str, int] = {}
    after = None
    headers = {"Authorization": f"Bearer {client.api_key}"}
    while True:
        params = {"after": after} if after else {}
        page = httpx.get(f"{stack.url}/v1/batches/{batch_id}/results", params=params, headers=headers, timeout=10)
        assert page.status_code == 200, page.text
        body = page.json()
        ends.update({line["custom_id"]: line["ended_at"] for line in body["data"]})
        if not body["has_more"]:
            return ends
        after = body["last_id"]


def test_a_deadline_the_batch_job_would_miss_escalates_every_item_and_ends_them_in_time(stack, tmp_path):
    before = jobs_made(stack)
    with WebhookReceiver() as receiver:
        client, batch = run(stack, tmp_path, "hurried", "+10s", receiver.url)
        events = [json.loads(hit.body) for hit in receiver.wait_for(2, timeout=30)]
    assert batch["complete_by"] and batch["escalated_at"] is not None, batch
    ends = ended_ats(stack, client, batch["id"])
    assert len(ends) == ITEMS
    late = {custom_id: end for custom_id, end in ends.items() if end > batch["complete_by"] * 1000}
    assert not late, f"ended after complete_by ({batch['complete_by']}): {late}"
    paths = batch["paths"]
    assert sum(paths.values()) == ITEMS and paths["default"] + paths["priority"] >= 1, paths
    assert {e["type"] for e in events} == {"batch.escalated", "batch.completed"}, events
    (escalated,) = [e["data"] for e in events if e["type"] == "batch.escalated"]
    assert escalated["to"] == "default" and escalated["items"] >= 1, escalated
    assert jobs_made(stack)["bedrock"] - before["bedrock"] == 1, "the job was started, then left"
    cost, on_demand, saving = (Decimal(batch[k]) for k in ("cost", "cost_on_demand", "saving"))
    assert cost > 0 and saving == on_demand - cost >= 0, batch


def test_a_deadline_the_batch_job_meets_sends_every_item_the_batch_path_at_half_the_price(stack, tmp_path):
    before = jobs_made(stack)
    client, batch = run(stack, tmp_path, "patient", "+60s")
    assert batch["escalated_at"] is None
    assert batch["paths"] == {"provider_batch": ITEMS, "flex": 0, "default": 0, "priority": 0}, batch["paths"]
    ends = ended_ats(stack, client, batch["id"])
    assert max(ends.values()) <= batch["complete_by"] * 1000
    assert jobs_made(stack)["bedrock"] - before["bedrock"] == 1
    cost, on_demand, saving = (Decimal(batch[k]) for k in ("cost", "cost_on_demand", "saving"))
    assert cost > 0 and on_demand == pytest.approx(2 * cost, abs=Decimal(ITEMS) / 10**8)
    assert saving == on_demand - cost
