"""The suite's record of every AWS call each function made (tests/support/aws_calls.py), in this process and in
the local stacks the tests start; and the check of that record against the synthesized roles
(tests/infra/test_iam_coverage.py), run after every other test of the session, whichever tests were chosen."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from tests.support.aws_calls import ENV, Recorder, install_everywhere

SITE = Path(__file__).resolve().parent / "aws_calls_site"
TESTS = Path(__file__).resolve().parents[1]
COVERAGE = TESTS / "infra" / "test_iam_coverage.py"
# The unit tests run no function's handler against AWS (their sockets are off).
NO_FUNCTIONS = TESTS / "unit"

RECORDER = Recorder()
_sink: dict[str, str] = {}


def pytest_configure(config: pytest.Config) -> None:
    install_everywhere(RECORDER)
    directory = tempfile.mkdtemp(prefix="asyncinfer-aws-calls-")
    _sink["dir"], _sink["file"] = directory, os.path.join(directory, "calls.jsonl")
    os.environ[ENV] = _sink["file"]
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SITE), os.environ.get("PYTHONPATH")]))


def pytest_unconfigure(config: pytest.Config) -> None:
    if "dir" in _sink:
        shutil.rmtree(_sink.pop("dir"), ignore_errors=True)


def everything() -> Recorder:
    """What this process recorded and what the local stacks' processes appended."""
    merged = Recorder()
    merged.calls, merged.writes = set(RECORDER.calls), set(RECORDER.writes)
    if "file" in _sink:
        merged.load(_sink["file"])
    return merged


@pytest.hookimpl(trylast=True)  # after -k and -m have deselected
def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    """The coverage check runs last; when the chosen tests run functions but not the check, it is added."""
    check = [item for item in items if item.path == COVERAGE]
    if not check and any(not item.path.is_relative_to(NO_FUNCTIONS) for item in items):
        check = [i for i in pytest.Module.from_parent(session, path=COVERAGE).collect() if isinstance(i, pytest.Item)]
    items[:] = [item for item in items if item.path != COVERAGE] + check


@pytest.fixture
def aws_calls():
    """The calls functions make during one test."""
    view = Recorder()
    RECORDER.listeners.append(view)
    yield view
    RECORDER.listeners.remove(view)
