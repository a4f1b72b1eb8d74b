"""OpenAI's own Python SDK, unchanged but for its base URL, against the local stack: a Batch of endpoint
/v1/embeddings (an input file from Files) runs on the offline demo embedder and ends with OpenAI's output and
error files, each output line an embeddings response with vectors of the model's length."""

from __future__ import annotations

import base64
import json
import math
import struct

import openai
import pytest

from tests.e2e.conftest import wait_for

pytestmark = pytest.mark.e2e

MODEL = "demo-embed"
DIMENSIONS = 256  # demo-embed's vectors (models.json)


def line(custom_id: str, body: dict) -> dict:
    return {"custom_id": custom_id, "method": "POST", "url": "/v1/embeddings", "body": {"model": MODEL, **body}}


@pytest.fixture
def client(stack) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{stack.url}/v1", api_key=stack.key, max_retries=0)


def run_batch(client: openai.OpenAI, tmp_path, lines: list[dict]):
    path = tmp_path / "embeddings.jsonl"
    path.write_text("".join(json.dumps(entry) + "\n" for entry in lines))
    with path.open("rb") as handle:
        uploaded = client.files.create(file=handle, purpose="batch")
    batch = client.batches.create(input_file_id=uploaded.id, endpoint="/v1/embeddings", completion_window="24h")
    assert batch.endpoint == "/v1/embeddings"
    return wait_for(
        lambda: (b := client.batches.retrieve(batch.id)).status == "completed" and b, timeout=120, what="completed"
    )


def test_an_embeddings_batch_ends_with_openais_output_and_error_files(client, tmp_path):
    lines = [
        line("one", {"input": "The quick brown fox"}),
        line("two", {"input": ["The quick brown fox", "jumps over the lazy dog"]}),
        line("too-long", {"input": "Too many dimensions", "dimensions": DIMENSIONS + 1}),
    ]
    done = run_batch(client, tmp_path, lines)
    assert (done.request_counts.total, done.request_counts.completed, done.request_counts.failed) == (3, 2, 1)

    output = {}
    for raw in client.files.content(done.output_file_id).text.splitlines():
        entry = json.loads(raw)
        assert entry["id"].startswith("batch_req_") and entry["error"] is None
        assert entry["response"]["status_code"] == 200 and entry["response"]["request_id"]
        output[entry["custom_id"]] = entry["response"]["body"]
    assert list(output) == ["one", "two"]
    for custom_id, count in (("one", 1), ("two", 2)):
        body = output[custom_id]
        assert body["object"] == "list" and body["model"] == MODEL
        assert [(d["object"], d["index"]) for d in body["data"]] == [("embedding", i) for i in range(count)]
        for item in body["data"]:
            assert len(item["embedding"]) == DIMENSIONS
            assert math.isclose(math.sqrt(sum(v * v for v in item["embedding"])), 1.0, rel_tol=1e-9)
        assert body["usage"]["prompt_tokens"] == body["usage"]["total_tokens"] > 0
    assert output["one"]["usage"]["prompt_tokens"] == 4  # the demo models count whitespace words
    assert output["two"]["usage"]["prompt_tokens"] == 4 + 5
    # The same text gives the same vector; another text another one.
    assert output["one"]["data"][0]["embedding"] == output["two"]["data"][0]["embedding"]
    assert output["two"]["data"][0]["embedding"] != output["two"]["data"][1]["embedding"]

    errors = [json.loads(raw) for raw in client.files.content(done.error_file_id).text.splitlines()]
    assert [(e["custom_id"], e["error"]["code"]) for e in errors] == [("too-long", "invalid_request")]
    assert f"dimensions {DIMENSIONS + 1} exceeds {DIMENSIONS}" in errors[0]["error"]["message"]


def test_an_embeddings_batch_gives_shorter_vectors_and_base64_when_asked(client, tmp_path):
    lines = [
        line("short", {"input": "hello world", "dimensions": 64}),
        line("packed", {"input": "hello world", "encoding_format": "base64"}),
        line("chat-model", {"model": "gpt-4o-mini", "input": "hello world"}),
    ]
    done = run_batch(client, tmp_path, lines)
    output = {}
    for raw in client.files.content(done.output_file_id).text.splitlines():
        entry = json.loads(raw)
        output[entry["custom_id"]] = entry["response"]["body"]["data"][0]["embedding"]
    assert len(output["short"]) == 64
    packed = base64.b64decode(output["packed"])
    assert len(packed) == 4 * DIMENSIONS
    assert all(isinstance(v, float) for v in struct.unpack(f"<{DIMENSIONS}f", packed))
    errors = [json.loads(raw) for raw in client.files.content(done.error_file_id).text.splitlines()]
    assert [e["custom_id"] for e in errors] == ["chat-model"]
    assert "'gpt-4o-mini' is a chat model, not an embedding model" in errors[0]["error"]["message"]
