"""`complete_by` as the surfaces take and show it, on the real local stack: a batch on the native API, through the
official `openai` SDK (`extra_body`) and Anthropic's, answers with its target, cost, saving and paths; a bad value, a
target after the completion window, or a class chosen beside it is a 400 naming complete_by; a single chat submit
with it starts in flex (in default for a tenant that may not use flex) and its reads show the path it took."""

from __future__ import annotations

import json
import time

import anthropic
import openai
import pytest

from tests.e2e.conftest import wait_for
from tests.e2e.test_fair_share import tenant_cli

pytestmark = pytest.mark.e2e

PATHS = {"provider_batch", "flex", "default", "priority"}


def chat(text: str, **fields) -> dict:
    return {"model": "demo-chat", "messages": [{"role": "user", "content": text}], **fields}


def lines(count: int, **fields) -> list[dict]:
    return [{"custom_id": f"q{i}", "body": chat(f"question {i}", **fields)} for i in range(count)]


def assert_reported(batch: dict, ahead: int) -> None:
    # complete_by is floored from the request's arrival; created_at is read a moment later.
    assert batch["complete_by"] - batch["created_at"] in (ahead - 1, ahead), batch
    assert batch["escalated_at"] is None
    assert set(batch["paths"]) == PATHS and sum(batch["paths"].values()) == batch["request_counts"]["completed"]
    for name in ("cost", "cost_on_demand", "saving"):
        assert isinstance(batch[name], str) and "." in batch[name], batch
    assert float(batch["saving"]) == pytest.approx(float(batch["cost_on_demand"]) - float(batch["cost"]))


def refusal(response) -> str:
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] in ("invalid_request", "invalid_batch"), error
    assert "complete_by" in error["message"], error
    return error["message"]


def test_a_native_batch_keeps_and_shows_its_target_and_refuses_bad_ones(stack):
    with stack.client() as client:
        made = client.post("/v1/batches", json={"requests": lines(2), "complete_by": "+60s"})
        assert made.status_code == 200, made.text
        assert_reported(made.json(), 60)
        read = client.get(f"/v1/batches/{made.json()['id']}").json()
        assert read["complete_by"] == made.json()["complete_by"]
        done = wait_for(
            lambda: (b := client.get(f"/v1/batches/{made.json()['id']}").json())["status"] == "completed" and b,
            timeout=60,
            what="the batch completed",
        )
        assert done["request_counts"]["completed"] == 2
        assert set(done["paths"]) == PATHS

        for bad in ("tomorrow", "2026-12-07T01:00:00", 600, "+169h", 1_000_000_000):
            refusal(client.post("/v1/batches", json={"requests": lines(1), "complete_by": bad}))
        late = {"requests": lines(1), "complete_by": "+2h", "completion_window": "1h"}
        assert "after the completion window ends" in refusal(client.post("/v1/batches", json=late))
        early = client.post("/v1/batches", json={**late, "complete_by": "+30m"})
        assert early.status_code == 200, early.text
        for tier in ({"service_tier": "flex"}, {"service_tier": "priority"}, {"priority": 1}):
            conflict = {"requests": lines(2, **tier), "complete_by": "+60s"}
            assert "leave service_tier" in refusal(client.post("/v1/batches", json=conflict))
        own = {"requests": [{"custom_id": "a", "body": chat("x", complete_by="+60s")}]}
        assert "set complete_by on the batch" in refusal(client.post("/v1/batches", json=own))


def test_the_openai_sdk_sends_complete_by_as_extra_body_and_reads_it_back(stack, tmp_path):
    client = openai.OpenAI(base_url=f"{stack.url}/v1", api_key=stack.key, max_retries=0)
    path = tmp_path / "requests.jsonl"
    entries = [
        {"custom_id": f"q{i}", "method": "POST", "url": "/v1/chat/completions", "body": chat(f"q{i}")} for i in range(2)
    ]
    path.write_text("".join(json.dumps(entry) + "\n" for entry in entries))
    with path.open("rb") as handle:
        uploaded = client.files.create(file=handle, purpose="batch")
    batch = client.batches.create(
        input_file_id=uploaded.id,
        endpoint="/v1/chat/completions",
        completion_window="24h",
        extra_body={"complete_by": "+60s"},
    )
    # The SDK keeps fields its Batch model does not name (its models allow extra fields).
    assert_reported(batch.model_dump(), 60)
    assert client.batches.retrieve(batch.id).complete_by == batch.complete_by
    with pytest.raises(openai.BadRequestError, match="complete_by is after the completion window ends"):
        client.batches.create(
            input_file_id=uploaded.id,
            endpoint="/v1/chat/completions",
            completion_window="30s",
            extra_body={"complete_by": "+60s"},
        )
    with pytest.raises(openai.BadRequestError, match="complete_by"):
        client.batches.create(
            input_file_id=uploaded.id,
            endpoint="/v1/chat/completions",
            completion_window="24h",
            extra_body={"complete_by": "soon"},
        )


def test_a_message_batch_takes_complete_by_as_an_extension(stack):
    client = anthropic.Anthropic(base_url=stack.url, api_key=stack.key, max_retries=0)
    params = {"model": "demo-chat", "max_tokens": 50, "messages": [{"role": "user", "content": "hi"}]}
    batch = client.messages.batches.create(
        requests=[{"custom_id": "a", "params": params}], extra_body={"complete_by": "+90s"}
    )
    shown = batch.model_dump()
    assert set(shown["paths"]) == PATHS and shown["cost"] == "0.00000000"
    assert isinstance(shown["complete_by"], int)
    with pytest.raises(anthropic.BadRequestError, match="complete_by"):
        client.messages.batches.create(
            requests=[{"custom_id": "a", "params": params}], extra_body={"complete_by": "+25h"}
        )


def test_a_single_task_with_complete_by_starts_in_the_cheapest_class_it_may_use(stack):
    with stack.client() as client:
        made = client.post("/v1/async", json=chat("cheaply", complete_by="+60s"))
        assert made.status_code == 200, made.text
        read = client.get(f"/v1/async/{made.json()['id']}").json()
        assert (read["service_tier"], read["path"]) == ("flex", "flex"), read
        assert abs(read["complete_by"] - (time.time() + 60)) < 10, read
        conflict = client.post("/v1/async", json=chat("x", complete_by="+60s", service_tier="default"))
        assert "leave service_tier" in refusal(conflict)
        refusal(client.post("/v1/async", json=chat("x", complete_by="+0s")))

    key = stack.new_key("noflex")
    tenant_cli(stack, "set", "--tenant", "noflex", "--classes", "default,priority")
    with stack.client(key) as client:
        made = client.post("/v1/async", json=chat("cheaply", complete_by="+60s"))
        assert made.status_code == 200, made.text
        read = client.get(f"/v1/async/{made.json()['id']}").json()
        assert (read["service_tier"], read["path"]) == ("default", "default"), read
        done = wait_for(
            lambda: (t := client.get(f"/v1/async/{made.json()['id']}").json())["status"] == "COMPLETED" and t,
            timeout=60,
            what="the task completed",
        )
        assert done["path"] == "default"
