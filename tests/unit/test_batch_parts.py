"""Which items of a batch go up as provider batch jobs (asyncinfer.domain.batch_parts.plan_parts): per model with
batch jobs, at least its minimum, at most its maximum per part, without tools; the rest runs on demand."""

from __future__ import annotations

from asyncinfer.domain.batch_parts import batchable, execution_name, plan_parts
from asyncinfer.domain.catalog import ModelRegistry


def registry(min_records: int = 3, max_records: int = 5) -> ModelRegistry:
    batch = {"api": "bedrock", "min_records": min_records, "max_records": max_records}
    chat = {"provider": "local", "upstream": "demo-chat", "kind": "chat"}
    return ModelRegistry.model_validate(
        {
            "version": 1,
            "models": {
                "cheap": {
                    "provider": "local",
                    "upstream": "demo-chat",
                    "kind": "chat",
                    "batch": batch,
                    "batch_prices": {},
                },
                "plain": chat,
            },
        }
    )


def line(model: str, **extra) -> dict:
    return {"model": model, "messages": [{"role": "user", "content": "hi"}], **extra}


def test_a_models_items_go_up_in_even_parts_of_at_most_its_maximum():
    lines = [(i, line("cheap")) for i in range(12)]
    parts = plan_parts(registry(min_records=3, max_records=5), lines)
    assert [(p.number, p.model, p.indexes) for p in parts] == [
        (0, "cheap", (0, 1, 2, 3)),
        (1, "cheap", (4, 5, 6, 7)),
        (2, "cheap", (8, 9, 10, 11)),
    ]
    assert plan_parts(registry(min_records=3, max_records=5), lines) == parts, "the same lines, the same parts"


def test_below_the_minimum_models_without_batch_jobs_and_tool_requests_run_on_demand():
    tools = [{"type": "function", "function": {"name": "f"}}]
    lines = [
        (0, line("cheap")),
        (1, line("plain")),
        (2, line("cheap", tools=tools)),
        (3, line("cheap")),
        (4, line("unknown")),
    ]
    assert plan_parts(registry(min_records=3), lines) == [], "only two batchable items of `cheap`"
    (part,) = plan_parts(registry(min_records=2), lines)
    assert part.indexes == (0, 3)
    assert not batchable(line("cheap", mcp_servers=[{"url": "https://x"}])) and batchable(line("cheap"))
    assert plan_parts(registry(min_records=2), lines, usable=lambda spec: spec.provider != "local") == [], (
        "a deployment without the local stand-ins sends the demo models' items on demand"
    )


def test_a_part_below_the_minimum_after_the_split_is_left_on_demand():
    lines = [(i, line("cheap")) for i in range(7)]
    (part,) = plan_parts(registry(min_records=4, max_records=6), lines)
    assert part.indexes == (0, 1, 2, 3), "7 items in parts of at most 6 are 4 and 3; the 3 are under the minimum"
    assert [p.indexes for p in plan_parts(registry(min_records=3, max_records=6), lines)] == [(0, 1, 2, 3), (4, 5, 6)]


def test_an_execution_name_fits_lambdas_64_characters():
    assert len(execution_name("0" * 32, 99_999)) <= 64
