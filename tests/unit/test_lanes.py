"""Classes from requests, and start estimates from a lane's recent starts."""

import pytest

from asyncinfer.domain.errors import InvalidRequest
from asyncinfer.domain.lanes import estimate_start, parse_tier
from asyncinfer.domain.model import ServiceTier


@pytest.mark.parametrize(
    ("body", "tier"),
    [
        ({}, ServiceTier.DEFAULT),
        ({"service_tier": "flex"}, ServiceTier.FLEX),
        ({"service_tier": "priority", "priority": -3}, ServiceTier.PRIORITY),
        ({"priority": 1}, ServiceTier.PRIORITY),
        ({"priority": -1}, ServiceTier.FLEX),
        ({"priority": 0}, ServiceTier.DEFAULT),
        ({"priority": None}, ServiceTier.DEFAULT),
    ],
)
def test_the_class_comes_from_service_tier_else_privategpts_priority(body, tier):
    assert parse_tier(body) == tier


@pytest.mark.parametrize("body", [{"service_tier": "gold"}, {"service_tier": 1}, {"priority": True}, {"priority": 1.5}])
def test_anything_else_is_refused(body):
    with pytest.raises(InvalidRequest):
        parse_tier(body)


def test_an_idle_lane_starts_the_next_task_now_and_cannot_tell_for_the_others():
    assert estimate_start(1_000_000, 0, [], 1000) == 1_000_000
    assert estimate_start(1_000_000, 5, [], 1000) is None


def test_the_rate_is_the_lanes_since_it_got_busy_not_the_windows():
    now = 100_000
    # 40 starts over the last 4 s (the minute before them quiet): 10 a second, so position 9 starts in 1 s.
    starts = [(96_000, 10), (97_000, 10), (98_000, 10), (99_000, 10)]
    assert estimate_start(now, 9, starts, 1000) == now + 1000
    assert estimate_start(now, 0, starts, 1000) == now + 100
    # A single start just now: at least a bucket's span.
    assert estimate_start(now, 0, [(now, 1)], 1000) == now + 1000
