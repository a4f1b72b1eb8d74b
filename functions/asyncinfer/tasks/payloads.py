"""What endings are told with: a task and a batch in webhook events, a batch item in the results file.
Their shapes are the API's own (asyncinfer.surfaces.openai_batches and .webhooks); the composition root hands them to
the services that send them, so no service depends on a surface."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from asyncinfer.domain.item_costs import cost_e8, cost_on_demand_e8, path_taken
from asyncinfer.domain.model import Task
from asyncinfer.domain.records import Batch
from asyncinfer.domain.reservations import from_e8


@dataclass(frozen=True)
class Payloads:
    task_data: Callable[[Task], dict[str, Any]]
    batch_data: Callable[[Batch], dict[str, Any]]
    result_line: Callable[[str, Task | None, dict[str, Any] | None], dict[str, Any]]
    # A results line as a line of OpenAI's output file ("output") or error file ("errors").
    file_line: Callable[[dict[str, Any]], tuple[str, dict[str, Any]]]


def item_costs(task: Task) -> dict[str, Any]:
    """What a batch item's results line tells of its cost: the path it took, what it was charged and what the same
    usage costs on demand, in US dollars as the batch's sums are (decimal strings of eight places)."""
    return {
        "path": path_taken(task),
        "cost": format(from_e8(cost_e8(task)), "f"),
        "cost_on_demand": format(from_e8(cost_on_demand_e8(task)), "f"),
    }
