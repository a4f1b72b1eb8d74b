"""OpenAI's own Python SDK, unchanged but for its base URL, against the local stack: the Files + Batches
workflow (upload, create, retrieve, list every page, output and error files, cancel) and the models list."""

from __future__ import annotations

import json

import openai
import pytest

from tests.e2e.conftest import wait_for

pytestmark = pytest.mark.e2e


def line(custom_id: str, model: str, text: str) -> dict:
    return {
        "custom_id": custom_id,
        "method": "POST",
        "url": "/v1/chat/completions",
        "body": {"model": model, "messages": [{"role": "user", "content": text}], "max_tokens": 200},
    }


@pytest.fixture
def client(stack) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{stack.url}/v1", api_key=stack.key, max_retries=0)


def upload(client: openai.OpenAI, tmp_path, lines: list[dict]):
    path = tmp_path / "requests.jsonl"
    path.write_text("".join(json.dumps(entry) + "\n" for entry in lines))
    with path.open("rb") as handle:
        return client.files.create(file=handle, purpose="batch"), path.stat().st_size


def test_the_openai_sdk_runs_a_files_and_batches_workflow_to_its_output_and_error_files(client, tmp_path):
    lines = [line(f"request-{i}", "gpt-4o-mini", f"Question number {i}") for i in range(3)]
    lines.append(line("request-fails", "demo-fail", "This one fails"))
    uploaded, size = upload(client, tmp_path, lines)
    assert uploaded.id.startswith("file-") and uploaded.purpose == "batch" and uploaded.bytes == size
    assert uploaded.filename == "requests.jsonl" and isinstance(uploaded.created_at, int)
    assert client.files.retrieve(uploaded.id).bytes == size
    assert uploaded.id in [f.id for f in client.files.list(purpose="batch")]

    batch = client.batches.create(
        input_file_id=uploaded.id,
        endpoint="/v1/chat/completions",
        completion_window="24h",
        metadata={"run": "e2e"},
    )
    assert batch.object == "batch" and batch.input_file_id == uploaded.id and batch.completion_window == "24h"
    assert isinstance(batch.created_at, int) and batch.status in ("validating", "in_progress")
    assert batch.endpoint == "/v1/chat/completions" and batch.metadata == {"run": "e2e"}

    done = wait_for(
        lambda: (b := client.batches.retrieve(batch.id)).status == "completed" and b, timeout=120, what="completed"
    )
    assert isinstance(done.completed_at, int) and done.completed_at >= done.created_at
    assert (done.request_counts.total, done.request_counts.completed, done.request_counts.failed) == (4, 3, 1)

    output = [json.loads(raw) for raw in client.files.content(done.output_file_id).text.splitlines()]
    assert [entry["custom_id"] for entry in output] == ["request-0", "request-1", "request-2"]
    for entry in output:
        assert entry["error"] is None and entry["response"]["status_code"] == 200
        body = entry["response"]["body"]
        assert body["object"] == "chat.completion" and body["choices"][0]["message"]["content"]
        assert body["usage"]["completion_tokens"] > 0
    errors = [json.loads(raw) for raw in client.files.content(done.error_file_id).text.splitlines()]
    assert [(e["custom_id"], e["error"]["code"]) for e in errors] == [("request-fails", "model_error")]
    assert client.files.retrieve(done.output_file_id).purpose == "batch_output"

    # Every page, one batch a page: the cursor moves on, and the walk ends.
    seen = [b.id for b in client.batches.list(limit=1)]
    assert batch.id in seen and len(seen) == len(set(seen))

    assert client.files.delete(uploaded.id).deleted is True
    with pytest.raises(openai.NotFoundError):
        client.files.retrieve(uploaded.id)


def test_the_openai_sdk_cancels_a_batch(client, tmp_path):
    lines = [line(f"slow-{i}", "gpt-4o-mini", f"A question of many words, number {i}") for i in range(40)]
    uploaded, _ = upload(client, tmp_path, lines)
    batch = client.batches.create(input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="24h")
    cancelling = client.batches.cancel(batch.id)
    assert cancelling.status in ("cancelling", "cancelled") and isinstance(cancelling.cancelling_at, int)
    ended = wait_for(
        lambda: (b := client.batches.retrieve(batch.id)).status == "cancelled" and b, timeout=120, what="cancelled"
    )
    assert isinstance(ended.cancelled_at, int)
    counts = ended.request_counts
    assert counts.completed + counts.failed + counts.model_extra["cancelled"] == counts.total == 40
    assert counts.model_extra["cancelled"] > 0 and ended.error_file_id is not None


def test_the_openai_sdk_lists_the_registrys_models(client):
    models = {m.id: m for m in client.models.list()}
    assert {"gpt-4o-mini", "sonar-deep-research", "demo-chat"} <= set(models)
    assert models["gpt-4o-mini"].object == "model" and models["gpt-4o-mini"].owned_by == "asyncinfer"
    assert client.models.retrieve("gpt-4o-mini").id == "gpt-4o-mini"
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("no-such-model")


def test_the_openai_sdks_synchronous_chat_completion_is_told_where_its_body_goes(client):
    with pytest.raises(openai.NotFoundError) as refused:
        client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
    assert refused.value.code == "not_served" and "POST /v1/async" in refused.value.message
