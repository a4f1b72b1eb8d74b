import copy
import json
from pathlib import Path

import pytest

EVENTS = Path(__file__).resolve().parent.parent / "events"


def load_event(name: str) -> dict:
    """A sample event from events/, as a fresh copy the test may change."""
    return copy.deepcopy(json.loads((EVENTS / f"{name}.json").read_text()))


@pytest.fixture
def event():
    return load_event
