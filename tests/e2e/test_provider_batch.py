"""Acceptance 4 of issue 34 on the local stack, through OpenAI's own SDK: a batch's items on a model with a batch API
go up as ONE upstream job (the stand-ins of Bedrock's batch inference and of an OpenAI-compatible Batch API count
the jobs they were asked for, `GET /_jobs`), its output file has every line, and `GET /v1/usage` charges them
half of what the same tokens cost on demand (the priced registry: demo-batch-* at $3/$15 per million tokens on
demand, $1.50/$7.50 in batch jobs). A batch below the model's minimum record count runs on demand: no job."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from urllib.parse import urlparse

import httpx
import openai
import pytest

from tests.e2e.conftest import start_stack, stop_stack, wait_for

pytestmark = pytest.mark.e2e
PRICED = Path(__file__).resolve().parents[2] / "functions/asyncinfer/models.priced.json"
ON_DEMAND = (3.0, 15.0)  # $ per million input, output tokens (models.priced.json)


@pytest.fixture(scope="module")
def stack():
    running = start_stack(ASYNCINFER_MODELS_FILE=str(PRICED), ASYNCINFER_DEMO_BATCH_SECONDS="3")
    try:
        yield running
    finally:
        stop_stack(running)


def jobs_made(stack) -> dict[str, int]:
    """The stand-ins' count of upstream jobs created (the stack file names the stand-in's URL)."""
    port = urlparse(stack.url).port
    settings = json.loads((Path(tempfile.gettempdir()) / f"asyncinfer-local-{port}.json").read_text())
    return httpx.get(f"{settings['ASYNCINFER_DEMO_BATCH_JOBS_URL']}/_jobs", timeout=5).json()


def run_batch(stack, tmp_path, tenant: str, model: str, count: int) -> tuple[openai.OpenAI, list[dict]]:
    client = openai.OpenAI(base_url=f"{stack.url}/v1", api_key=stack.new_key(tenant), max_retries=0)
    lines = [
        {
            "custom_id": f"item-{i}",
            "method": "POST",
            "url": "/v1/chat/completions",
            "body": {"model": model, "messages": [{"role": "user", "content": f"Question number {i}"}]},
        }
        for i in range(count)
    ]
    path = tmp_path / f"{tenant}.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    with path.open("rb") as handle:
        uploaded = client.files.create(file=handle, purpose="batch")
    batch = client.batches.create(input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="24h")
    done = wait_for(
        lambda: (b := client.batches.retrieve(batch.id)).status in ("completed", "failed", "expired") and b,
        timeout=180,
        interval=0.5,
        what=f"the {model} batch to end",
    )
    assert done.status == "completed" and done.request_counts.completed == count, done
    assert done.output_file_id and done.error_file_id is None
    output = [json.loads(line) for line in client.files.content(done.output_file_id).text.splitlines()]
    return client, output


def usage_of(stack, client: openai.OpenAI, model: str) -> dict:
    answer = httpx.get(f"{stack.url}/v1/usage", headers={"Authorization": f"Bearer {client.api_key}"}, timeout=10)
    assert answer.status_code == 200, answer.text
    (line,) = [m for m in answer.json()["models"] if m["model"] == model]
    return line


def on_demand_cost(line: dict) -> float:
    return (line["prompt_tokens"] * ON_DEMAND[0] + line["completion_tokens"] * ON_DEMAND[1]) / 1_000_000


def test_200_items_go_up_as_one_bedrock_job_and_cost_half_the_on_demand_price(stack, tmp_path):
    before = jobs_made(stack)
    client, output = run_batch(stack, tmp_path, "halfprice", "demo-batch-bedrock", 200)
    assert len(output) == 200 and {o["custom_id"] for o in output} == {f"item-{i}" for i in range(200)}
    assert all(o["response"]["status_code"] == 200 for o in output)
    assert all(o["response"]["body"]["choices"][0]["message"]["content"] for o in output)
    after = jobs_made(stack)
    assert after["bedrock"] - before["bedrock"] == 1, "exactly one upstream job"
    line = usage_of(stack, client, "demo-batch-bedrock")
    assert line["tasks"] == 200 and line["prompt_tokens"] > 0 and line["completion_tokens"] > 0
    assert line["cost"] == pytest.approx(on_demand_cost(line) / 2, abs=200e-8), "half the on-demand price"


def test_an_openai_compatible_batch_api_takes_one_job_at_its_batch_price(stack, tmp_path):
    before = jobs_made(stack)
    client, output = run_batch(stack, tmp_path, "openaihalf", "demo-batch-openai", 12)
    assert len(output) == 12
    after = jobs_made(stack)
    assert (after["openai"] - before["openai"], after["bedrock"] - before["bedrock"]) == (1, 0)
    line = usage_of(stack, client, "demo-batch-openai")
    assert line["cost"] == pytest.approx(on_demand_cost(line) / 2, abs=12e-8)


def test_a_batch_below_the_minimum_record_count_runs_on_demand_at_the_full_price(stack, tmp_path):
    before = jobs_made(stack)
    client, output = run_batch(stack, tmp_path, "fewitems", "demo-batch-bedrock", 9)
    assert len(output) == 9
    assert jobs_made(stack) == before, "no upstream job"
    line = usage_of(stack, client, "demo-batch-bedrock")
    assert line["cost"] == pytest.approx(on_demand_cost(line), abs=9e-8)
