"""A running task's estimated finish, from its progress and the time since it started; on every read."""

import pytest

from asyncinfer.domain.lanes import Standing, estimate_finish
from asyncinfer.domain.model import Progress, Task, TaskKind, TaskStatus, new_task_id
from asyncinfer.tasks.reads import status_event
from asyncinfer.tasks.reads import timing as fields

STARTED = 1_000_000


def running(progress: Progress | None, status: TaskStatus = TaskStatus.IN_PROGRESS, started: int | None = STARTED):
    return Task(
        id=new_task_id(),
        tenant="acme",
        kind=TaskKind.CHAT,
        model="m",
        status=status,
        created_at=STARTED - 500,
        updated_at=STARTED,
        started_at=started,
        progress=progress,
    )


@pytest.mark.parametrize(
    ("progress", "finish"),
    [
        (Progress(step=1, steps=4), STARTED + 40_000),  # 10 s for a quarter: 40 s in all
        (Progress(step=3, steps=4), STARTED + 13_333),
        (Progress(step=4, steps=4), STARTED + 10_000),  # every step done: now
        (Progress(step=5, steps=4), STARTED + 10_000),  # more steps than said: never before now
        (Progress(step=0, percent=25.0), STARTED + 40_000),  # a percent needs no steps
        (Progress(step=1, steps=10, percent=50.0), STARTED + 20_000),  # the percent, finer, wins
        (Progress(step=0, percent=150.0), STARTED + 10_000),
        (Progress(percent=25.0), STARTED + 40_000),  # an upstream job's percent: no step at all
        # An upstream job that reports no percent: its start plus its model's usual time, while that is ahead.
        (Progress(elapsed_seconds=10, estimated_seconds=90), STARTED + 90_000),
    ],
)
def test_the_finish_is_the_start_plus_the_elapsed_time_over_the_part_done(progress, finish):
    assert estimate_finish(running(progress), STARTED + 10_000) == finish


@pytest.mark.parametrize(
    "task",
    [
        running(None),
        running(Progress(step=2)),  # a tool loop: the number of steps is the model's to decide
        running(Progress(step=0, steps=4)),  # nothing done yet: no pace to go by
        running(Progress(step=0, steps=4, percent=0.0)),
        running(Progress(step=1, steps=4), status=TaskStatus.CREATED),
        running(Progress(step=4, steps=4), status=TaskStatus.COMPLETED),
        running(Progress(step=1, steps=4), started=None),
        running(Progress(elapsed_seconds=10)),  # no usual time to go by
    ],
)
def test_no_estimate_when_progress_cannot_tell_or_the_task_is_not_running(task):
    assert estimate_finish(task, STARTED + 10_000) is None


def test_a_clock_behind_the_start_estimates_no_finish_before_the_start():
    assert estimate_finish(running(Progress(step=1, steps=2)), STARTED - 5) == STARTED


def test_every_read_shows_it_in_the_surfaces_spelling_and_only_while_it_can_tell():
    def stamp(ms: int) -> str:
        return f"t{ms}"

    shown = fields(running(Progress(step=1, steps=4)), None, stamp, now=STARTED + 10_000)
    assert shown == {
        "service_tier": "default",
        "progress": {"step": 1, "steps": 4},
        "estimated_finish_at": f"t{STARTED + 40_000}",
    }
    assert "estimated_finish_at" not in fields(running(Progress(step=1)), None, stamp, now=STARTED + 10_000)
    # Without a `now`, the time of the read.
    assert fields(running(Progress(step=1, steps=1)), None, int)["estimated_finish_at"] > STARTED


def test_a_streams_status_event_carries_the_status_and_what_a_read_adds():
    queued = running(None, status=TaskStatus.CREATED, started=None)
    assert status_event(queued, Standing(3, 5_000), str) == {
        "type": "status",
        "status": "CREATED",
        "service_tier": "default",
        "queue_position": 3,
        "estimated_start_at": "5000",
    }
    event = status_event(running(Progress(step=1, steps=2)), None, str, now=STARTED + 1_000)
    assert event["status"] == "IN_PROGRESS" and event["estimated_finish_at"] == str(STARTED + 2_000)


def test_a_job_past_its_usual_time_has_no_estimated_finish_and_is_not_shown_done():
    late = running(Progress(elapsed_seconds=120, estimated_seconds=90))
    assert estimate_finish(late, STARTED + 89_999) == STARTED + 90_000
    assert estimate_finish(late, STARTED + 120_000) is None
    shown = fields(late, None, str, now=STARTED + 120_000)
    assert shown["progress"] == {"elapsed_seconds": 120, "estimated_seconds": 90}
    assert "estimated_finish_at" not in shown
    done = fields(running(late.progress, status=TaskStatus.COMPLETED), None, str, now=STARTED + 130_000)
    assert done["progress"] == {"elapsed_seconds": 120, "estimated_seconds": 90}, "no percent it never told"
    percent = fields(running(Progress(percent=40.0), status=TaskStatus.COMPLETED), None, str)
    assert percent["progress"] == {"percent": 100.0}, "a job's percent, done, is all of it and has no step"
