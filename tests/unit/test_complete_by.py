"""`complete_by`: its three forms, its bounds, the completion window it may not outlast, the class it leaves to the
service, and how the batch surfaces and task reads show it."""

from datetime import UTC, datetime

import pytest

from asyncinfer.domain.complete_by import (
    TIER_CONFLICT,
    batch_complete_by,
    check_lines,
    check_no_tier,
    parse_complete_by,
    submit_fields,
)
from asyncinfer.domain.errors import InvalidRequest
from asyncinfer.domain.generation import parse_generation
from asyncinfer.domain.model import Cost, ServiceTier, Task, TaskKind
from asyncinfer.domain.records import Batch, BatchEndpoint
from asyncinfer.domain.requests import parse_chat_request
from asyncinfer.domain.responses import chat_body_of
from asyncinfer.surfaces import anthropic_batches, batch_costs, openai_batches
from asyncinfer.tasks.reads import timing

# 2026-12-07T01:00:00.250Z: a quarter second past a whole second, so that flooring shows.
NOW = 1_796_605_200_250
NOW_S = NOW // 1000


def refused(value, now=NOW) -> str:
    with pytest.raises(InvalidRequest) as exc:
        parse_complete_by(value, now)
    assert "complete_by" in exc.value.message
    return exc.value.message


def test_a_duration_counts_from_the_request_and_is_floored_to_the_second():
    assert parse_complete_by("+90s", NOW) == (NOW_S + 90) * 1000
    assert parse_complete_by("+1h30m", NOW) == (NOW_S + 5400) * 1000
    assert parse_complete_by(" +10m ", NOW) % 1000 == 0


def test_an_rfc_3339_time_needs_its_offset_z_or_hours():
    at = datetime(2026, 12, 7, 2, 0, 0, tzinfo=UTC).timestamp()
    assert parse_complete_by("2026-12-07T02:00:00Z", NOW) == int(at) * 1000
    assert parse_complete_by("2026-12-07T02:00:00z", NOW) == int(at) * 1000
    assert parse_complete_by("2026-12-07T03:00:00+01:00", NOW) == int(at) * 1000
    assert parse_complete_by("2026-12-07T02:00:00.999Z", NOW) == int(at) * 1000  # floored
    assert "offset" in refused("2026-12-07T02:00:00")
    assert "RFC 3339" in refused("tomorrow")


def test_epoch_seconds_are_a_time_and_a_small_number_is_refused_as_a_likely_duration():
    assert parse_complete_by(NOW_S + 600, NOW) == (NOW_S + 600) * 1000
    assert "+600s" in refused(600)
    for value in (True, 1.5e9, None, "", [NOW_S]):
        refused(value)


def test_past_too_close_and_over_a_week_ahead_are_refused():
    assert "past" in refused(NOW_S - 60)
    refused("+0.5s")  # floored, it would be less than a second ahead
    assert parse_complete_by("+168h", NOW) <= NOW + 168 * 3600 * 1000
    assert "604800 seconds" in refused("+169h")  # the duration grammar's own bound, a week
    assert "168h" in refused(NOW_S + 8 * 86400)


def test_a_batch_target_may_not_lie_after_its_completion_window():
    assert batch_complete_by(None, NOW, "24h") is None
    assert batch_complete_by("+60s", NOW, "24h") == (NOW_S + 60) * 1000
    assert batch_complete_by("+60s", NOW, "60s") == (NOW_S + 60) * 1000  # the window's very end (floored)
    assert batch_complete_by("+2h", NOW, None) == (NOW_S + 7200) * 1000  # no window: only the week bounds it
    with pytest.raises(InvalidRequest, match="complete_by is after the completion window ends"):
        batch_complete_by("+61s", NOW, "60s")
    with pytest.raises(InvalidRequest, match="complete_by"):
        batch_complete_by("+200h", NOW, "24h")


@pytest.mark.parametrize(
    "body",
    [{"service_tier": "flex"}, {"service_tier": "default"}, {"service_tier": "priority"}, {"priority": 1}],
)
def test_a_class_chosen_beside_complete_by_is_a_conflict(body):
    with pytest.raises(InvalidRequest, match="leave service_tier"):
        check_no_tier(body)
    with pytest.raises(InvalidRequest) as exc:
        submit_fields({**body, "complete_by": "+60s"}, NOW)
    assert exc.value.message == TIER_CONFLICT
    with pytest.raises(InvalidRequest, match=r"requests\[1\]\.body: complete_by chooses"):
        check_lines([{"model": "m"}, {"model": "m", **body}], NOW + 60_000)
    check_lines([{"model": "m", **body}], None)  # a batch without complete_by: each line chooses its class


def test_auto_and_no_class_leave_the_choice_to_the_service():
    check_no_tier({"service_tier": "auto", "priority": 0})
    assert submit_fields({"model": "m"}, NOW) == {}
    assert submit_fields({"complete_by": "+5m"}, NOW) == {"complete_by": (NOW_S + 300) * 1000}
    check_lines([{"model": "m"}, "not a body", None], NOW + 60_000)


def test_a_line_may_not_set_its_own_complete_by():
    with pytest.raises(InvalidRequest, match=r"requests\[0\]\.body\.complete_by: set complete_by on the batch"):
        check_lines([{"model": "m", "complete_by": "+60s"}], None)


def batch(**fields) -> Batch:
    base = {"id": "0190a5d2-7b3c-7d4e-8f00-1a2b3c4d5e6f", "tenant": "acme", "total": 3, "input_key": "in"}
    return Batch(endpoint=BatchEndpoint.CHAT_COMPLETIONS, created_at=NOW, updated_at=NOW, **{**base, **fields})


def test_every_batch_surface_shows_the_target_the_costs_the_saving_and_all_four_paths():
    made = batch(
        complete_by=(NOW_S + 60) * 1000,
        escalated_at=NOW + 1_999,
        cost_e8=150_000,
        cost_on_demand_e8=300_001,
        paths={"provider_batch": 2, "default": 1},
    )
    shown = {
        "complete_by": NOW_S + 60,
        "escalated_at": NOW_S + 2,
        "cost": "0.00150000",
        "cost_on_demand": "0.00300001",
        "saving": "0.00150001",
        "paths": {"provider_batch": 2, "flex": 0, "default": 1, "priority": 0},
    }
    assert batch_costs.render(made) == shown
    for surface in (openai_batches, anthropic_batches):
        assert shown.items() <= surface.render(made).items()
    plain = openai_batches.render(batch())
    assert plain["complete_by"] is None and plain["escalated_at"] is None
    assert (plain["cost"], plain["saving"]) == ("0.00000000", "0.00000000")
    assert plain["paths"] == dict.fromkeys(batch_costs.PATHS, 0)


def test_a_task_read_shows_its_path_target_and_on_demand_cost_beside_its_class():
    task = Task(
        id="t",
        tenant="acme",
        kind=TaskKind.CHAT,
        model="m",
        created_at=NOW,
        updated_at=NOW,
        service_tier=ServiceTier.FLEX,
        path="flex",
        complete_by=(NOW_S + 60) * 1000,
        cost_on_demand=Cost(total_cost=0.5, output_tokens_cost=0.5),
    )
    shown = timing(task, None, str, NOW)
    assert shown["service_tier"] == "flex" and shown["path"] == "flex"
    assert shown["complete_by"] == NOW_S + 60
    assert shown["cost_on_demand"]["total_cost"] == 0.5
    bare = timing(task.model_copy(update={"path": None, "complete_by": None, "cost_on_demand": None}), None, str, NOW)
    assert not {"path", "complete_by", "cost_on_demand"} & bare.keys()


def test_every_submit_body_takes_complete_by_and_never_sends_it_to_the_model():
    chat = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "complete_by": "+60s"}
    parsed = parse_chat_request(chat)
    assert parsed.complete_by == "+60s" and "complete_by" not in parsed.model_dump(mode="json", exclude_none=True)
    generation = parse_generation({"model": "m", "config": {"prompt": "p"}, "complete_by": NOW_S + 60})
    assert generation.complete_by == NOW_S + 60 and "complete_by" not in generation.model_dump()
    body = chat_body_of({"input": "hi", "background": True, "complete_by": "+60s"}, "m")
    assert body["complete_by"] == "+60s"  # then parsed as any chat submit's
    with pytest.raises(InvalidRequest, match="complete_by"):
        parse_chat_request({**chat, "complete_by": 1.5})
