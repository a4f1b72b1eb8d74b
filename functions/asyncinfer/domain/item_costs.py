"""What an ended task reports of its cost: the path it took, what it was charged (its usage's cost) and what the same
usage costs at the default class's on-demand prices. A batch adds each item's once to its sums (`Batch.cost_e8`,
`cost_on_demand_e8`, `paths`); its saving is the difference."""

from __future__ import annotations

from asyncinfer.domain.budgets import money
from asyncinfer.domain.catalog import ModelRegistry
from asyncinfer.domain.lanes import TIER_PATHS
from asyncinfer.domain.model import Cost, ServiceTier, Task, Usage
from asyncinfer.domain.reservations import to_e8

PROVIDER_BATCH = "provider_batch"


def path_taken(task: Task) -> str:
    """`provider_batch`, or the class it ran in: its path when that names a class, else its `service_tier` (an item
    of a batch without `complete_by`, or one its provider batch part handed back to run on demand)."""
    if task.path == PROVIDER_BATCH or task.path in TIER_PATHS:
        return task.path
    return task.service_tier.value


def on_demand_cost(registry: ModelRegistry, task: Task, usage: Usage) -> Cost | None:
    """`usage` at the default class's prices of the task's model: neither a class's factor nor batch prices. None
    when the usage is not priced."""
    if usage.cost is None:
        return None
    spec = registry.resolve(task.model, task.kind)
    return registry.for_tier(spec, ServiceTier.DEFAULT).prices.cost(usage)


def cost_e8(task: Task) -> int:
    """What the ended task was charged, in units of $0.00000001 (0 when it used nothing)."""
    cost = task.usage.cost if task.usage is not None else None
    return to_e8(money(cost.total_cost)) if cost is not None else 0


def cost_on_demand_e8(task: Task) -> int:
    """What it would have cost on demand; a task ended without that price (a failure, an older record) counts at
    what it was charged."""
    if task.cost_on_demand is None:
        return cost_e8(task)
    return to_e8(money(task.cost_on_demand.total_cost))
