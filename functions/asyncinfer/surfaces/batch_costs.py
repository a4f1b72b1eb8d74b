"""What every batch surface (native and OpenAI /v1/batches, Anthropic's /v1/messages/batches) adds about a batch's
`complete_by` and its cost: the target and when it escalated (epoch seconds), what its ended items were charged and
would have cost on demand (decimal dollar strings, exact), the saving, and how many completed items took each path."""

from __future__ import annotations

from decimal import Decimal
from functools import cache
from typing import Any

from pydantic import Field

from asyncinfer.domain.complete_by import seconds
from asyncinfer.domain.records import Batch
from asyncinfer.domain.reservations import from_e8
from asyncinfer.surfaces.answers import answer

PATHS = ("provider_batch", "flex", "default", "priority")
DOLLARS = r"^-?[0-9]+\.[0-9]{8}$"  # a decimal string of eight places: exact, as the ledger counts


def _dollars(description: str) -> Any:
    return Field(pattern=DOLLARS, examples=["0.00012000"], description=f"US dollars (a decimal string): {description}")


def _text(amount: Decimal) -> str:
    return format(amount, "f")


def render(batch: Batch) -> dict[str, Any]:
    cost = from_e8(batch.cost_e8)
    on_demand = from_e8(batch.cost_on_demand_e8)
    return {
        "complete_by": seconds(batch.complete_by),
        "escalated_at": seconds(batch.escalated_at),
        "cost": _text(cost),
        "cost_on_demand": _text(on_demand),
        "saving": _text(on_demand - cost),
        "paths": {path: batch.paths.get(path, 0) for path in PATHS},
    }


@cache
def fields() -> dict[str, Any]:
    """The fields of `render`, for each surface's answer model (not in OpenAI's nor Anthropic's objects: their SDKs
    keep them as extra fields). Made with the document's models (asyncinfer.surfaces.answers)."""
    paths = answer(
        "BatchPaths",
        **{path: (int, Field(description=f"Completed items that ran as {path}")) for path in PATHS},
    )
    return {
        "complete_by": (
            int | None,
            Field(
                description="Unix seconds: every item done by then, as cheaply as possible (null when not asked for)"
            ),
        ),
        "escalated_at": (
            int | None,
            Field(description="Unix seconds: when its remaining items first left the cheap path for on-demand classes"),
        ),
        "cost": (str, _dollars("what its ended items were charged")),
        "cost_on_demand": (str, _dollars("what they would have cost at the default class's on-demand prices")),
        "saving": (str, _dollars("cost_on_demand - cost")),
        "paths": (paths, Field(description="Completed items by the path they took (each key always present)")),
    }
