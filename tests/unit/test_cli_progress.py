"""`aic run` and `aic watch` show an upstream job's progress events as one line each (issue 31)."""

import io
from argparse import Namespace

import pytest
from asyncinfer_client import cli
from asyncinfer_client.events import Event
from rich.console import Console


@pytest.mark.parametrize(
    ("data", "line"),
    [
        ({"elapsed_seconds": 42, "estimated_seconds": 90}, "running 42 s of about 90 s"),
        ({"elapsed_seconds": 90, "estimated_seconds": 90}, "running 90 s of about 90 s"),
        ({"elapsed_seconds": 120, "estimated_seconds": 90}, "running 120 s (past the usual 90 s)"),
        ({"elapsed_seconds": 7}, "running 7 s"),
        ({"percent": 40.0}, "40% done"),
        ({"percent": 12.5}, "12.5% done"),
        # A tool loop's steps have their tool calls' lines already.
        ({"step": 2, "steps": 4, "percent": 50.0}, None),
        ({"step": 1, "message": "called calc__add"}, None),
        ({}, None),
        ("not an object", None),
    ],
)
def test_a_progress_event_reads_as_one_line(data, line):
    assert cli.progress_line(data) == line


class Following:
    id = "task_0193abcd"

    def events(self, starting_after: int, timeout: float):
        yield Event(1, "job_started", {"type": "job_started"})
        yield Event(2, "progress", {"type": "progress", "elapsed_seconds": 42, "estimated_seconds": 90})
        yield Event(3, "progress", {"type": "progress", "elapsed_seconds": 95, "estimated_seconds": 90})
        yield Event(4, "output", {"type": "output", "index": 0, "file_type": "video"})


def test_following_a_video_prints_its_time_so_far_against_its_usual_time(tmp_path, monkeypatch):
    monkeypatch.setattr(cli, "STATE", tmp_path)
    out, err = io.StringIO(), io.StringIO()
    args = Namespace(json=False, timeout=60.0)
    cli._stream(Following(), args, Console(file=out, width=100), Console(file=err, width=100), after=0)
    lines = [line for line in err.getvalue().splitlines() if line.strip()]
    assert lines == ["running 42 s of about 90 s", "running 95 s (past the usual 90 s)"]
    assert out.getvalue() == "" and (tmp_path / Following.id).read_text() == "4"
