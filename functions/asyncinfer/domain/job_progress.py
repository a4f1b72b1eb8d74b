"""An upstream job's progress, as its task reports it at each poll (the long-task runner's `_poll_job`).

A job that reports a percent (OpenAI's videos) has that percent, and nothing else: no step, for a job has
none. A job that reports none (Bedrock's GetAsyncInvoke, a background response) has, while it runs, the
seconds its task has run and the seconds its model's jobs usually take (the registry's `expected_seconds`,
absent when the registry gives none). Past that estimate, the elapsed time simply exceeds it: the job is
not claimed done, and a read shows no estimated finish (asyncinfer.domain.lanes). Done is told once it
is: every provider reports 100 percent for a completed job, and that is the last progress event.

Reads get every poll's progress (one write on the task's record, in place). The event log gets a percent
each time it changes, and the time run at most every TELL_EVERY_SECONDS: the log is kept and replayed to
every reader of the stream, and polls may come every second (ASYNCINFER_JOB_POLL_SECONDS is 1 in tests), so
a 90-second job tells its time about 9 times, however often it is polled. On AWS the waits between polls
grow from 5 to 30 s, so only the first few polls are left untold.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from asyncinfer.domain.model import Progress, now_ms

TELL_EVERY_SECONDS = 10


class JobReport(NamedTuple):
    record: Progress | None  # for reads (None: nothing new to record)
    tell: Progress | None  # as a `progress` event (None: not this time)


def job_progress(
    percent: float | None, running: bool, started_at: int | None, now: int, expected_seconds: int | None
) -> Progress | None:
    """What a poll says of the job: its percent when it reports one; else, while it runs, its time so far
    (since its task started) and its model's usual time; else (ended, reporting nothing) None."""
    if percent is not None:
        return Progress(percent=percent)
    if not running or started_at is None:
        return None
    return Progress(elapsed_seconds=max(now - started_at, 0) // 1000, estimated_seconds=expected_seconds)


def report(progress: Progress | None, told: dict[str, Any] | None) -> JobReport:
    """What to do with a poll's `progress`, `told` being the last progress told as an event (as dumped)."""
    if progress is None:
        return JobReport(None, None)
    if progress.percent is not None:
        changed = told is None or told.get("percent") != progress.percent
        return JobReport(progress, progress) if changed else JobReport(None, None)
    last = None if told is None or told.get("percent") is not None else told.get("elapsed_seconds")
    due = last is None or (progress.elapsed_seconds or 0) - last >= TELL_EVERY_SECONDS
    return JobReport(progress, progress if due else None)


def poll_report(
    percent: float | None,
    state: str,
    started_at: int | None,
    expected_seconds: int | None,
    told: dict[str, Any] | None,
    now: int | None = None,
) -> JobReport:
    """A poll's report, the job being in `state` (running, completed or failed): its progress (job_progress,
    at `now`: the time of the call when not given) and what to do with it (report)."""
    at = now_ms() if now is None else now
    return report(job_progress(percent, state == "running", started_at, at, expected_seconds), told)
