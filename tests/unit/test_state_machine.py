import itertools
import time
import uuid

import pytest

from asyncinfer.domain.model import (
    ALLOWED,
    TERMINAL,
    TaskStatus,
    can_transition,
    is_task_id,
    new_task_id,
    sources_of,
)

S = TaskStatus
LEGAL = {
    (S.CREATED, S.IN_PROGRESS),
    (S.CREATED, S.CANCELLED),
    (S.CREATED, S.FAILED),
    (S.IN_PROGRESS, S.IN_PROGRESS),
    (S.IN_PROGRESS, S.COMPLETED),
    (S.IN_PROGRESS, S.FAILED),
    (S.IN_PROGRESS, S.CANCELLED),
}
ALL_PAIRS = list(itertools.product(TaskStatus, TaskStatus))
ILLEGAL = [pair for pair in ALL_PAIRS if pair not in LEGAL]


def test_the_table_is_exactly_the_design():
    assert {(a, b) for a, targets in ALLOWED.items() for b in targets} == LEGAL
    assert set(ALLOWED) == set(TaskStatus)


@pytest.mark.parametrize(("current", "target"), sorted(LEGAL))
def test_legal_transitions(current, target):
    assert can_transition(current, target)
    assert current in sources_of(target)


@pytest.mark.parametrize(("current", "target"), ILLEGAL)
def test_every_illegal_transition_is_refused(current, target):
    assert not can_transition(current, target)
    assert current not in sources_of(target)


def test_terminal_states_never_change():
    assert {S.COMPLETED, S.FAILED, S.CANCELLED} == TERMINAL
    for status in TERMINAL:
        assert ALLOWED[status] == frozenset()
        for target in TaskStatus:
            assert status not in sources_of(target)


def test_nothing_returns_to_created():
    assert sources_of(S.CREATED) == frozenset()


def test_task_ids_are_uuid7_and_time_ordered():
    earlier = new_task_id(1_700_000_000_000)
    later = new_task_id(1_700_000_000_001)
    assert earlier < later
    assert uuid.UUID(hex=earlier).version == 7
    assert is_task_id(earlier)
    now_id = new_task_id()
    assert int(now_id[:12], 16) == pytest.approx(time.time() * 1000, abs=5000)
    assert len({new_task_id(1) for _ in range(1000)}) == 1000


@pytest.mark.parametrize("bad", ["", "zz" * 16, uuid.uuid4().hex, new_task_id().upper(), new_task_id() + "0"])
def test_is_task_id_rejects_anything_else(bad):
    assert not is_task_id(bad)
