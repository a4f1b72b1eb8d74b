"""A `complete_by` batch holds every item at the default class's on-demand price, even the items a provider batch job
would take at half of it (any of them may escalate), and its items carry its target (moto, the real handlers)."""

from __future__ import annotations

import pytest

from tests.integration.test_long_tasks import long_tasks  # noqa: F401  (the durable runtime fixture)
from tests.integration.test_provider_batch_routing import create, items_of, requests, stand_in, store  # noqa: F401

pytestmark = pytest.mark.integration


def held_per_item(aws, count: int, **fields) -> tuple[str, float]:
    lines = requests(count, "demo-batch-bedrock")
    for line in lines:
        line["body"]["max_tokens"] = 1000
    status, batch = create(aws, {"requests": lines, **fields})
    assert status == 200, batch
    made = store().get_batch("acme", batch["id"].removeprefix("batch_").replace("-", ""))
    assert made is not None and made.reserved_e8
    return made.id, made.reserved_e8 / count


def test_a_complete_by_batch_reserves_at_the_on_demand_price_and_its_items_carry_its_target(stand_in):  # noqa: F811
    aws, _, _ = stand_in
    _, in_a_part = held_per_item(aws, 10)
    batch_id, targeted = held_per_item(aws, 10, complete_by="+10m")
    assert targeted == pytest.approx(2 * in_a_part, rel=1e-6), "demo-batch-bedrock's batch prices are half"
    target = store().get_batch("acme", batch_id).complete_by
    assert target is not None and target % 1000 == 0
    aws.run_queue("batch")
    assert {task.complete_by for task in items_of(batch_id, 10)} == {target}
