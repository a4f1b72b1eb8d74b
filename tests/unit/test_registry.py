"""The model registry says which models run as long tasks, and refuses what could not run."""

import pytest
from pydantic import ValidationError

from asyncinfer.domain.catalog import ModelRegistry
from asyncinfer.providers.registry import load_registry


def registry(models: dict, providers: dict | None = None) -> ModelRegistry:
    return ModelRegistry.model_validate({"version": 1, "providers": providers or {}, "models": models})


def test_the_packaged_registry_has_the_long_demo_models():
    packaged = load_registry()
    assert packaged.models["demo-deep-research"].runs == "durable"
    assert packaged.models["demo-deep-research"].tools == "demo-research"
    assert packaged.upstream_job(packaged.models["demo-video"])
    assert not packaged.upstream_job(packaged.models["demo-deep-research"])
    assert packaged.models["demo-chat"].runs == "worker"


@pytest.mark.parametrize(
    "models, providers",
    [
        ({"reel": {"provider": "local", "upstream": "x", "kind": "video"}}, {}),
        (
            {"bg": {"provider": "up", "upstream": "o3", "kind": "chat"}},
            {"up": {"type": "openai", "background": True}},
        ),
    ],
)
def test_a_model_that_runs_as_a_job_upstream_must_run_as_a_long_task(models, providers):
    with pytest.raises(ValidationError, match='"runs": "durable"'):
        registry(models, providers)


def test_a_background_provider_makes_its_models_upstream_jobs():
    found = registry(
        {"bg": {"provider": "up", "upstream": "o3-deep-research", "kind": "chat", "runs": "durable"}},
        {"up": {"type": "openai", "background": True}},
    )
    assert found.upstream_job(found.models["bg"])


def test_the_priced_demo_registry_is_the_demo_registry_with_a_price_on_every_model():
    """`ASYNCINFER_MODELS_FILE=functions/asyncinfer/models.priced.json` tries budgets locally."""
    from pathlib import Path

    demo = load_registry()
    priced = load_registry(Path(__file__).resolve().parents[2] / "functions/asyncinfer/models.priced.json")
    assert priced.default_chat_model == demo.default_chat_model
    assert priced.models.keys() == demo.models.keys()
    for model_id, spec in priced.models.items():
        free = {"prices": demo.models[model_id].prices, "batch_prices": demo.models[model_id].batch_prices}
        assert spec.model_copy(update=free) == demo.models[model_id]
        assert spec.prices != demo.models[model_id].prices, model_id


def test_a_job_model_may_give_its_usual_time_which_the_shipped_nova_reel_stand_in_does():
    assert load_registry().models["demo-video"].expected_seconds == 90  # AWS: about 90 s for a 6 s video
    reel = {"provider": "local", "upstream": "x", "kind": "video", "runs": "durable"}
    assert registry({"reel": {**reel, "expected_seconds": 120}}).models["reel"].expected_seconds == 120
    for wrong in (0, -5, 8 * 24 * 3600):
        with pytest.raises(ValidationError, match="expected_seconds"):
            registry({"reel": {**reel, "expected_seconds": wrong}})
    with pytest.raises(ValidationError, match="only a job run upstream uses"):
        registry({"chat": {"provider": "local", "upstream": "demo-chat", "kind": "chat", "expected_seconds": 9}})
