"""Which items of a batch go up as provider batch jobs (ModelSpec.batch), and how a part of a batch is named: its
objects' prefix, its runner execution and that execution's event. Pure: the runner's orchestration is
asyncinfer.runner.batch_jobs, the start of a part asyncinfer.tasks.provider_parts."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from asyncinfer.domain.catalog import ModelRegistry, ModelSpec
from asyncinfer.domain.model import TaskKind

# What a batch job cannot carry: tools (Bedrock's Converse records take none,
# https://docs.aws.amazon.com/bedrock/latest/userguide/batch-inference.html), MCP servers (our tool loop runs
# turn by turn). Such items run on demand.
UNBATCHABLE = ("tools", "functions", "mcp_servers")


def batchable(request: dict[str, Any]) -> bool:
    """Whether a chat request can go up in a batch job."""
    return not any(request.get(name) for name in UNBATCHABLE)


def part_prefix(tenant: str, batch_id: str, part: int) -> str:
    """Where a part's objects live: its record, the job's input, the job, the job's output."""
    return f"batches/{tenant}/{batch_id}/upstream/{part}"


def execution_name(batch_id: str, part: int) -> str:
    """The part's runner execution: the name makes a repeated start the same execution (64 characters at most)."""
    return f"batchpart-{batch_id}-{part}"


def part_event(tenant: str, batch_id: str, part: int) -> dict[str, Any]:
    """The runner's event for a part (its handler tells it from a task's by `batch_part`)."""
    return {"batch_part": {"tenant": tenant, "batch_id": batch_id, "part": part}}


@dataclass(frozen=True)
class PartPlan:
    number: int
    model: str
    indexes: tuple[int, ...]


def plan_parts(
    registry: ModelRegistry,
    lines: Sequence[tuple[int, dict[str, Any]]],
    usable: Callable[[ModelSpec], bool] = lambda spec: True,
) -> list[PartPlan]:
    """The parts of a chat batch whose `(index, body)` lines are given: per model with batch jobs (and `usable`
    here: the demo models' only where the local stand-ins run), its batchable lines in parts of at most
    `max_records`, as even as can be; a part below the model's `min_records` is none. The same lines give the same
    parts (numbered from 0). Lines in no part run on demand."""
    groups: dict[str, list[int]] = {}
    for index, body in lines:
        model = body.get("model")
        spec = registry.models.get(model) if isinstance(model, str) else None
        if spec is None or spec.kind != TaskKind.CHAT or registry.batch_api(spec) is None or not batchable(body):
            continue
        if not usable(spec):
            continue
        groups.setdefault(model, []).append(index)
    parts: list[PartPlan] = []
    for model in sorted(groups):
        api = registry.batch_api(registry.models[model])
        assert api is not None
        indexes = sorted(groups[model])
        count = -(-len(indexes) // api.max_records)
        size = -(-len(indexes) // count)
        for start in range(0, len(indexes), size):
            chunk = tuple(indexes[start : start + size])
            if len(chunk) >= api.min_records:
                parts.append(PartPlan(len(parts), model, chunk))
    return parts
