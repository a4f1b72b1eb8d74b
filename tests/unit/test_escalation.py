"""`complete_by`: when a batch's remaining items leave the cheap path for on-demand."""

from __future__ import annotations

import pytest

from asyncinfer.domain.escalation import Outlook, next_look_ms, should_escalate

# 20 items of 1 s, two side by side on-demand: 10 s of on-demand work, 20 s with the margin of 2.
TWENTY = {"remaining": 20, "item_ms": 1000, "slots": 2}


@pytest.mark.parametrize(
    ("now_s", "deadline_s", "cheap_finish_s", "escalate"),
    [
        (0, 60, 30, False),  # the batch job ends by 30 s: keep it, on-demand could still take over until 40 s
        (39, 60, 30, False),
        (40, 60, 45, True),  # the latest switch: on-demand needs 20 s with its margin
        (0, 10, 30, True),  # the job cannot end by the deadline: leave it at once
        (0, 60, 61, True),
        (0, 60, None, False),  # no estimate yet: wait, up to the latest switch
        (41, 60, None, True),
        (0, 15, 14, True),  # in time by its own estimate, but on-demand could not take over if it slipped
    ],
)
def test_the_cheap_path_is_kept_while_it_can_finish_and_on_demand_could_still_take_over(
    now_s, deadline_s, cheap_finish_s, escalate
):
    outlook = Outlook(
        now_ms=now_s * 1000,
        deadline_ms=deadline_s * 1000,
        cheap_finish_ms=None if cheap_finish_s is None else cheap_finish_s * 1000,
        **TWENTY,
    )
    assert should_escalate(outlook) is escalate


def test_nothing_left_never_escalates_and_on_demand_rounds_up_to_whole_rounds():
    assert not should_escalate(Outlook(now_ms=10_000, deadline_ms=5_000, remaining=0, item_ms=1000, slots=2))
    odd = Outlook(now_ms=0, deadline_ms=100_000, remaining=3, item_ms=1000, slots=2, margin=1.0)
    assert odd.on_demand_ms() == 2000 and odd.latest_switch_ms() == 98_000


def test_the_next_look_is_never_after_the_latest_switch():
    outlook = Outlook(now_ms=0, deadline_ms=60_000, cheap_finish_ms=30_000, **TWENTY)
    assert next_look_ms(outlook, poll_ms=30_000) == 30_000
    assert next_look_ms(outlook, poll_ms=55_000) == 40_000
    late = Outlook(now_ms=50_000, deadline_ms=60_000, **TWENTY)
    assert next_look_ms(late, poll_ms=30_000) == 50_000
