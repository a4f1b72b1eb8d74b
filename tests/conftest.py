import copy
import json
import os
from pathlib import Path

import pytest

os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")

# Every AWS call the functions make in this run, checked against the synthesized roles at its end.
pytest_plugins = ["tests.support.aws_calls_plugin"]

EVENTS = Path(__file__).resolve().parent.parent / "events"


def load_event(name: str) -> dict:
    """A sample event from events/, as a fresh copy the test may change."""
    return copy.deepcopy(json.loads((EVENTS / f"{name}.json").read_text()))


@pytest.fixture
def event():
    return load_event
