"""An ended task's cost report: the path it took, and what it was charged and would have cost on demand, as a results
line spells them (exact decimal strings, never an exponent)."""

from __future__ import annotations

import pytest

from asyncinfer.domain.catalog import ModelRegistry
from asyncinfer.domain.item_costs import cost_e8, cost_on_demand_e8, on_demand_cost, path_taken
from asyncinfer.domain.model import Cost, ServiceTier, Task, TaskKind, TaskStatus, Usage
from asyncinfer.tasks.payloads import item_costs

REGISTRY = ModelRegistry.model_validate(
    {
        "version": 1,
        "class_prices": {"flex": 0.5, "priority": 2.0},
        "models": {
            "m": {
                "provider": "local",
                "upstream": "demo-chat",
                "kind": "chat",
                "prices": {"input_per_million": 3.0, "output_per_million": 15.0},
            }
        },
    }
)


def task(**extra) -> Task:
    fields = {"id": "t", "tenant": "acme", "kind": TaskKind.CHAT, "model": "m", "created_at": 1, "updated_at": 1}
    return Task(**{**fields, "status": TaskStatus.COMPLETED, **extra})


@pytest.mark.parametrize(
    ("path", "tier", "taken"),
    [
        (None, ServiceTier.DEFAULT, "default"),
        (None, ServiceTier.FLEX, "flex"),
        ("on_demand", ServiceTier.PRIORITY, "priority"),
        ("provider_batch", ServiceTier.DEFAULT, "provider_batch"),
        ("flex", ServiceTier.FLEX, "flex"),
        ("default", ServiceTier.DEFAULT, "default"),
    ],
)
def test_the_path_taken_is_provider_batch_or_the_class_it_ran_in(path, tier, taken):
    assert path_taken(task(path=path, service_tier=tier)) == taken


@pytest.mark.parametrize("tier", list(ServiceTier))
def test_the_on_demand_cost_is_the_default_class_price_whatever_the_class(tier):
    usage = Usage(prompt_tokens=1_000_000, completion_tokens=100_000, total_tokens=1_100_000)
    charged = REGISTRY.for_tier(REGISTRY.models["m"], tier).prices.cost(usage)
    priced = usage.model_copy(update={"cost": charged})
    assert on_demand_cost(REGISTRY, task(service_tier=tier), priced).total_cost == 4.5
    assert on_demand_cost(REGISTRY, task(), usage) is None, "an unpriced usage has no on-demand price either"


def test_a_results_line_spells_tiny_amounts_exactly():
    usage = Usage(prompt_tokens=1, total_tokens=1, cost=Cost(total_cost=0.00000012))
    line = item_costs(task(usage=usage, cost_on_demand=Cost(total_cost=0.00000024), path="provider_batch"))
    assert line == {"path": "provider_batch", "cost": "0.00000012", "cost_on_demand": "0.00000024"}
    assert (cost_e8(task(usage=usage)), cost_on_demand_e8(task(usage=usage))) == (12, 12)
    assert item_costs(task(status=TaskStatus.CANCELLED)) == {
        "path": "default",
        "cost": "0.00000000",
        "cost_on_demand": "0.00000000",
    }
