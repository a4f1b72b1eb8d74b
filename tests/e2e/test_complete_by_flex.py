"""complete_by on the local stack for a model without batch jobs: a batch's items start in the flex class (its own
lane and workers), are watched by the sweeper at the batch's escalate time, and end by the target; a single chat
with complete_by starts in flex the same way."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import start_stack, stop_stack, wait_for

pytestmark = pytest.mark.e2e
PRICED = Path(__file__).resolve().parents[2] / "functions/asyncinfer/models.priced.json"
ITEMS = 10


@pytest.fixture(scope="module")
def stack():
    running = start_stack(ASYNCINFER_MODELS_FILE=str(PRICED), ASYNCINFER_DEMO_CHAT_SECONDS="1")
    try:
        yield running
    finally:
        stop_stack(running)


def ended_ats(stack, key: str, batch_id: str) -> dict[str, tuple[int, str]]:
    ends: dict[str, tuple[int, str]] = {}
    after = None
    while True:
        params = {"after": after} if after else {}
        page = httpx.get(
            f"{stack.url}/v1/batches/{batch_id}/results",
            params=params,
            headers={"Authorization": f"Bearer {key}"},
            timeout=10,
        )
        assert page.status_code == 200, page.text
        body = page.json()
        ends.update({line["custom_id"]: (line["ended_at"], line.get("path")) for line in body["data"]})
        if not body["has_more"]:
            return ends
        after = body["last_id"]


def test_a_complete_by_batch_without_batch_jobs_runs_in_flex_and_ends_by_its_target(stack):
    key = stack.new_key("flexbatch")
    headers = {"Authorization": f"Bearer {key}"}
    requests = [
        {"custom_id": f"q{i}", "body": {"model": "demo-chat", "messages": [{"role": "user", "content": f"Q {i}"}]}}
        for i in range(ITEMS)
    ]
    created = httpx.post(
        f"{stack.url}/v1/batches", json={"requests": requests, "complete_by": "+60s"}, headers=headers, timeout=10
    )
    assert created.status_code == 200, created.text
    batch_id = created.json()["id"]

    def ended() -> dict | None:
        batch = httpx.get(f"{stack.url}/v1/batches/{batch_id}", headers=headers, timeout=10).json()
        return batch if batch["status"] in ("completed", "failed", "expired", "cancelled") else None

    batch = wait_for(ended, timeout=90, interval=0.25, what="the batch to end")
    assert batch["status"] == "completed" and batch["request_counts"]["completed"] == ITEMS, batch
    # Far from its target: flex keeps every item, and the sweeper's looks move none.
    assert batch["escalated_at"] is None, batch
    assert batch["paths"] == {"provider_batch": 0, "flex": ITEMS, "default": 0, "priority": 0}, batch["paths"]
    ends = ended_ats(stack, key, batch_id)
    assert len(ends) == ITEMS
    assert max(end for end, _ in ends.values()) <= batch["complete_by"] * 1000
    cost, on_demand, saving = (Decimal(batch[k]) for k in ("cost", "cost_on_demand", "saving"))
    assert cost > 0 and saving == on_demand - cost


def test_a_single_complete_by_chat_starts_in_flex_and_completes(stack):
    key = stack.new_key("flexsingle")
    headers = {"Authorization": f"Bearer {key}"}
    body = {"model": "demo-chat", "messages": [{"role": "user", "content": "hello"}], "complete_by": "+120s"}
    submitted = httpx.post(f"{stack.url}/v1/async", json=body, headers=headers, timeout=10)
    assert submitted.status_code in (200, 201, 202), submitted.text
    task_id = submitted.json()["id"]

    def done() -> dict | None:
        task = httpx.get(f"{stack.url}/v1/async/{task_id}", headers=headers, timeout=10).json()
        return task if task["status"] == "COMPLETED" else None

    task = wait_for(done, timeout=60, interval=0.25, what="the task to complete")
    assert (task["service_tier"], task["path"]) == ("flex", "flex"), task
