"""Embedding tasks are metered and charged as any task: a batch of endpoint /v1/embeddings through the real
handlers against moto; each item's usage is its input tokens at the model's input price, and GET /v1/usage
and the tenant's daily budget count exactly those."""

from __future__ import annotations

from decimal import Decimal

import pytest

from asyncinfer.surfaces.async_api import internal_id
from tests.integration.test_batches import create, get, results, run_all
from tests.support.models_file import serve_models

pytestmark = pytest.mark.integration

PRICE = 0.02  # per million input tokens
REGISTRY = {
    "version": 1,
    "models": {
        "demo-chat": {"provider": "local", "upstream": "demo-chat", "kind": "chat"},
        "priced-embed": {
            "provider": "local",
            "upstream": "demo-embed",
            "kind": "embedding",
            "dimensions": 32,
            "prices": {"input_per_million": PRICE, "per_request": 0.001},
        },
    },
}


@pytest.fixture
def priced(aws, tmp_path, monkeypatch):
    serve_models(REGISTRY, tmp_path, monkeypatch)
    return aws


def test_an_embedding_batchs_tokens_are_charged_and_counted_in_usage(priced):
    aws = priced
    requests = [
        {"custom_id": "a", "body": {"model": "priced-embed", "input": "one two three"}},
        {"custom_id": "b", "body": {"model": "priced-embed", "input": ["four five", "six seven eight nine"]}},
    ]
    status, batch = create(aws, {"endpoint": "/v1/embeddings", "requests": requests})
    assert status == 200, batch
    run_all(aws)
    batch = get(aws, batch["id"])
    assert batch["status"] == "completed" and batch["output_file_id"], batch
    lines = {line["custom_id"]: line for line in results(aws, batch)}
    assert {k: line["status"] for k, line in lines.items()} == {"a": "COMPLETED", "b": "COMPLETED"}
    assert [len(d["embedding"]) for d in lines["b"]["response"]["data"]] == [32, 32]

    for custom_id, tokens in (("a", 3), ("b", 6)):
        usage = lines[custom_id]["usage"]
        assert (usage["prompt_tokens"], usage["completion_tokens"], usage["total_tokens"]) == (tokens, 0, tokens)
        assert usage["cost"]["input_tokens_cost"] == round(tokens * PRICE / 1e6, 8)
        assert usage["cost"]["total_cost"] == round(tokens * PRICE / 1e6 + 0.001, 8)

    status, report = aws.api("GET", "/v1/usage")
    assert status == 200, report
    (line,) = [m for m in report["models"] if m["model"] == "priced-embed"]
    assert (line["tasks"], line["prompt_tokens"], line["total_tokens"]) == (2, 9, 9)
    expected = Decimal("0.002") + Decimal(9) * Decimal(str(PRICE)) / Decimal(1_000_000)
    assert Decimal(str(line["cost"])) == expected
    assert Decimal(str(report["budgets"]["daily"]["spent"])) == expected
    assert report["budgets"]["daily"]["reserved"] == 0  # each item's reservation settled with its end


def test_an_embeddings_line_for_another_url_refuses_the_batch_and_a_line_failing_its_checks_fails_alone(priced):
    aws = priced
    wrong = {"custom_id": "x", "url": "/v1/chat/completions", "body": {"model": "priced-embed", "input": "hi"}}
    status, refused = create(aws, {"endpoint": "/v1/embeddings", "requests": [wrong]})
    assert status == 400 and "url '/v1/chat/completions' is not the batch's endpoint" in refused["error"]["message"]

    lines = [
        {"custom_id": "ok", "body": {"model": "priced-embed", "input": "hi"}},
        {"custom_id": "chat", "body": {"model": "demo-chat", "input": "hi"}},
    ]
    status, batch = create(aws, {"endpoint": "/v1/embeddings", "requests": lines})
    assert status == 200, batch
    run_all(aws)
    batch = get(aws, batch["id"])
    assert (batch["request_counts"]["completed"], batch["request_counts"]["failed"]) == (1, 1)
    failed = {line["custom_id"]: line for line in results(aws, batch)}["chat"]
    assert failed["error"]["code"] == "unknown_model"
    assert "'demo-chat' is a chat model, not an embedding model" in failed["error"]["message"]
    task = aws.store.get("acme", internal_id(failed["id"]))
    assert task is not None and task.kind.value == "embedding"
