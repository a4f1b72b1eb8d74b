"""Deadlines from bodies and headers, and which one a task has missed."""

import pytest

from asyncinfer.domain.deadlines import (
    DEADLINE_EXCEEDED,
    START_TIMEOUT,
    Deadlines,
    due_times,
    finish_by_at_start,
    missed,
    parse_body,
    parse_duration,
    parse_headers,
)
from asyncinfer.domain.errors import InvalidRequest
from asyncinfer.domain.model import Task, TaskKind, TaskStatus


def task(**fields) -> Task:
    return Task(id="t", tenant="acme", kind=TaskKind.CHAT, model="m", created_at=1_000, updated_at=1_000, **fields)


@pytest.mark.parametrize(
    ("text", "ms"),
    [("30", 30_000), ("2.5", 2_500), ("30s", 30_000), ("5m", 300_000), ("1h30m", 5_400_000), ("1500ms", 1_500)],
)
def test_durations_are_seconds_or_replicates_units(text, ms):
    assert parse_duration(text, "Cancel-After") == ms


@pytest.mark.parametrize("text", ["", "soon", "5x", "-3", "0", "0.05", "8d", "1e9", "nan", "inf", "m5"])
def test_anything_else_or_out_of_range_is_refused_naming_the_header(text):
    with pytest.raises(InvalidRequest, match="Cancel-After"):
        parse_duration(text, "Cancel-After")


def test_body_fields_are_seconds_and_win_over_the_headers():
    body = parse_body({"start_timeout": 2, "execution_timeout": 0.5})
    headers = parse_headers({"x-fal-request-timeout": "9", "cancel-after": "1m"})
    assert body == Deadlines(start_ms=2_000, execution_ms=500)
    assert body.merged(headers) == Deadlines(start_ms=2_000, execution_ms=500, total_ms=60_000)
    assert Deadlines().merged(headers) == Deadlines(start_ms=9_000, total_ms=60_000)


@pytest.mark.parametrize("value", ["5", True, [5], -1, 0, 7 * 86400 + 1, float("nan")])
def test_body_deadlines_must_be_seconds_in_range(value):
    with pytest.raises(InvalidRequest, match="start_timeout"):
        parse_body({"start_timeout": value})


def test_cancel_after_bounds_the_start_and_the_end_from_the_submit():
    fields = Deadlines(start_ms=5_000, total_ms=3_000, execution_ms=10_000).fields(1_000)
    assert fields == {"start_by": 4_000, "finish_by": 4_000, "execution_timeout_ms": 10_000}
    assert due_times(task(**fields)) == [4_000]


def test_an_execution_timeout_counts_from_the_start_and_the_sooner_end_wins():
    assert finish_by_at_start(task(execution_timeout_ms=10_000), started_at=50_000) == 60_000
    assert finish_by_at_start(task(execution_timeout_ms=10_000, finish_by=55_000), started_at=50_000) == 55_000
    assert finish_by_at_start(task(), started_at=50_000) is None


def test_a_task_not_started_by_its_start_deadline_missed_it_and_a_started_one_did_not():
    waiting = task(start_by=5_000)
    assert missed(waiting, 4_999) is None
    assert missed(waiting, 5_000)[0] == START_TIMEOUT
    assert missed(waiting.model_copy(update={"started_at": 4_000}), 9_000) is None


def test_a_started_task_past_its_end_deadline_missed_it_unless_it_ended():
    running = task(status=TaskStatus.IN_PROGRESS, started_at=2_000, execution_timeout_ms=1_000, finish_by=2_500)
    assert missed(running, 2_499) is None
    assert missed(running, 2_500)[0] == DEADLINE_EXCEEDED
    assert missed(running.model_copy(update={"status": TaskStatus.COMPLETED}), 9_000) is None


def test_cancel_after_missed_before_the_start_is_a_start_timeout():
    waiting = task(start_by=4_000, finish_by=4_000)
    assert missed(waiting, 4_000)[0] == START_TIMEOUT
