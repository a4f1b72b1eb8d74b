"""The registry's batch fields: a model's batch jobs (`batch`) and its batch price (`batch_prices`) come together,
on chat models, on a provider of the same API; Bedrock's may name their own service role."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from asyncinfer.domain.catalog import ModelRegistry
from asyncinfer.domain.model import TaskKind, Usage

ROLE = "arn:aws:iam::123456789012:role/batch"


def registry(model: dict, providers: dict | None = None) -> ModelRegistry:
    return ModelRegistry.model_validate({"version": 1, "providers": providers or {}, "models": {"m": model}})


def chat(**extra) -> dict:
    return {"provider": "local", "upstream": "demo-chat", "kind": "chat", **extra}


def test_a_model_with_batch_jobs_is_priced_at_its_batch_price():
    found = registry(
        chat(
            prices={"input_per_million": 3, "output_per_million": 15},
            batch={"api": "bedrock", "min_records": 10},
            batch_prices={"input_per_million": 1.5, "output_per_million": 7.5},
        )
    )
    spec = found.models["m"]
    assert found.batch_api(spec) is not None and found.batch_api(spec).min_records == 10
    usage = Usage(prompt_tokens=1_000_000, completion_tokens=1_000_000, total_tokens=2_000_000)
    assert found.at_batch_prices(spec).prices.cost(usage).total_cost == 9.0
    assert spec.prices.cost(usage).total_cost == 18.0


def test_without_a_batch_price_there_is_no_batch_path():
    found = registry(chat())
    assert found.batch_api(found.models["m"]) is None
    with pytest.raises(ValueError):
        found.at_batch_prices(found.models["m"])


@pytest.mark.parametrize(
    ("model", "providers", "says"),
    [
        (chat(batch={"api": "openai"}), None, "both"),
        (chat(batch_prices={}), None, "both"),
        ({**chat(batch={"api": "openai"}, batch_prices={}), "kind": "image"}, None, "chat models only"),
        (chat(batch={"api": "openai", "min_records": 5, "max_records": 4}, batch_prices={}), None, "max_records"),
        (
            {**chat(batch={"api": "openai"}, batch_prices={}), "provider": "br"},
            {"br": {"type": "bedrock"}},
            "on a bedrock provider",
        ),
    ],
)
def test_inconsistent_batch_settings_are_refused(model, providers, says):
    with pytest.raises(ValidationError) as refused:
        registry(model, providers)
    assert says in str(refused.value)


def test_a_bedrock_model_with_its_role_and_the_shipped_demo_models_load():
    model = {**chat(batch={"api": "bedrock", "role_arn": ROLE}, batch_prices={}), "provider": "br"}
    assert registry(model, {"br": {"type": "bedrock"}}).models["m"].batch.role_arn == ROLE
    from pathlib import Path

    from asyncinfer.providers.registry import load_registry

    root = Path(__file__).resolve().parents[2] / "functions/asyncinfer"
    for name in ("models.json", "models.priced.json"):
        shipped = load_registry(root / name)
        assert {m for m in shipped.ids(TaskKind.CHAT) if shipped.batch_api(shipped.models[m])} == {
            "demo-batch-bedrock",
            "demo-batch-openai",
        }
