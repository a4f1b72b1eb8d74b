"""An upstream job's progress at each poll (issue 31): its own percent when it reports one, with no step;
else, while it runs, the time it has run and its model's usual time, told as an event at most every 10 s."""

from asyncinfer.domain.job_progress import TELL_EVERY_SECONDS, JobReport, job_progress, poll_report, report
from asyncinfer.domain.model import Progress

STARTED = 1_000_000


def test_a_job_that_reports_a_percent_has_it_and_no_step():
    seen = job_progress(40.0, True, STARTED, STARTED + 5_000, 90)
    assert seen == Progress(percent=40.0) and seen.model_dump(exclude_none=True) == {"percent": 40.0}
    assert job_progress(100.0, False, STARTED, STARTED + 5_000, None) == Progress(percent=100.0)


def test_a_job_that_reports_none_has_its_time_so_far_and_its_models_usual_time_while_it_runs():
    assert job_progress(None, True, STARTED, STARTED + 42_700, 90) == Progress(elapsed_seconds=42, estimated_seconds=90)
    assert job_progress(None, True, STARTED, STARTED + 42_700, None) == Progress(elapsed_seconds=42)
    assert job_progress(None, True, STARTED, STARTED - 10, 90) == Progress(elapsed_seconds=0, estimated_seconds=90)
    late = job_progress(None, True, STARTED, STARTED + 150_000, 90)
    assert late == Progress(elapsed_seconds=150, estimated_seconds=90) and late.percent is None
    assert job_progress(None, False, STARTED, STARTED + 5_000, 90) is None  # ended: nothing to say of its run
    assert job_progress(None, True, None, STARTED, 90) is None


def test_a_percent_is_recorded_and_told_each_time_it_changes_and_only_then():
    forty = Progress(percent=40.0)
    assert report(forty, None) == JobReport(forty, forty)
    assert report(forty, {"percent": 40.0}) == JobReport(None, None)
    assert report(forty, {"percent": 20.0}) == JobReport(forty, forty)
    assert report(forty, {"elapsed_seconds": 3}) == JobReport(forty, forty)
    assert report(None, {"percent": 40.0}) == JobReport(None, None)


def test_the_time_run_is_recorded_at_every_poll_and_told_at_most_every_ten_seconds():
    def at(elapsed: int) -> Progress:
        return Progress(elapsed_seconds=elapsed, estimated_seconds=90)

    assert report(at(1), None) == JobReport(at(1), at(1)), "the first poll tells it"
    told = at(1).model_dump(exclude_none=True)
    assert report(at(2), told) == JobReport(at(2), None), "recorded for reads, not told"
    assert report(at(1 + TELL_EVERY_SECONDS), told) == JobReport(at(11), at(11))
    assert report(at(30), {"percent": 50.0}) == JobReport(at(30), at(30)), "a percent that stopped"
    # Polled every second for a 90 s job: told 9 times, not 90.
    told_times, last = 0, None
    for second in range(1, 91):
        _, tell = report(at(second), last)
        if tell is not None:
            told_times, last = told_times + 1, tell.model_dump(exclude_none=True)
    assert told_times == 9


def test_a_poll_reports_by_the_state_the_job_is_in():
    five = Progress(elapsed_seconds=5, estimated_seconds=90)
    assert poll_report(None, "running", STARTED, 90, None, now=STARTED + 5_000) == JobReport(five, five)
    done = Progress(percent=100.0)
    assert poll_report(100.0, "completed", STARTED, 90, five.model_dump(), now=STARTED + 9_000) == (done, done)
    assert poll_report(None, "failed", STARTED, 90, five.model_dump(), now=STARTED + 9_000) == JobReport(None, None)
    assert poll_report(None, "running", STARTED, None, None).record.elapsed_seconds > 0  # now: the time of the call
