import asyncio
import json

import pytest

from asyncinfer.domain.errors import TaskNotFound
from asyncinfer.domain.model import Task, TaskKind, TaskStatus, new_task_id
from asyncinfer.tasks.streaming import (
    EventFrames,
    EventTail,
    InvalidLastEventId,
    StreamLimits,
    parse_last_event_id,
    sse,
)


class LogStore:
    """A task and its event log, scripted: each read of the task advances to the next scripted step."""

    def __init__(self, steps: list[tuple[TaskStatus, list[list[dict]]]]) -> None:
        self.task = Task(id=new_task_id(), tenant="acme", kind=TaskKind.CHAT, model="m", created_at=1, updated_at=1)
        self.steps = steps
        self.batches: list[tuple[int, list[dict]]] = []
        self.reads: list[tuple[int, int]] = []
        self.seq = 0

    def get(self, tenant, task_id):
        if tenant != "acme" or task_id != self.task.id:
            return None
        if self.steps:
            status, batches = self.steps.pop(0)
            for batch in batches:
                self.batches.append((self.seq + 1, batch))
                self.seq += len(batch)
            self.task = self.task.model_copy(update={"status": status})
        return self.task

    def read_events(self, tenant, task_id, after_seq=0, scan_from=0):
        self.reads.append((after_seq, scan_from))
        out = []
        for first, batch in self.batches:
            if first >= scan_from:
                out += [{"seq": first + i, **e} for i, e in enumerate(batch) if first + i > after_seq]
        return out


def run(tail: EventTail, after: int = 0) -> list[bytes]:
    async def collect():
        await tail.open()
        return [frame async for frame in tail.stream(after)]

    return asyncio.run(collect())


def parse(frames: list[bytes]) -> list[dict]:
    out = []
    for frame in frames:
        fields: dict = {}
        for line in frame.decode().strip("\n").split("\n"):
            name, _, value = line.partition(": ")
            fields[name] = value
        out.append(fields)
    return out


async def no_sleep(_: float) -> None:
    return None


def delta(text: str) -> dict:
    return {"type": "delta", "text": text}


def tail_of(store: LogStore, **limits) -> EventTail:
    return EventTail(
        store,
        "acme",
        store.task.id,
        frames=EventFrames(lambda t: {"status": t.status.value}),
        limits=StreamLimits(**limits),
        sleep=no_sleep,
    )


def test_sse_frames_carry_id_event_and_every_line_of_data():
    assert sse("a\nb", event="delta", id=7) == b"id: 7\nevent: delta\ndata: a\ndata: b\n\n"
    assert sse("{}") == b"data: {}\n\n"


@pytest.mark.parametrize("value, expected", [(None, 0), ("", 0), (" 12 ", 12), ("0", 0)])
def test_last_event_id_is_a_sequence_number(value, expected):
    assert parse_last_event_id(value) == expected


@pytest.mark.parametrize("value", ["-1", "abc", "1.5", "99999999999", "1e3"])
def test_a_malformed_last_event_id_is_refused(value):
    with pytest.raises(InvalidLastEventId):
        parse_last_event_id(value)


def test_tails_the_log_until_the_task_ends_and_then_says_so():
    store = LogStore(
        [
            (TaskStatus.CREATED, [[{"type": "restart", "attempt": 1}]]),  # open()
            (TaskStatus.IN_PROGRESS, [[delta("Hel"), delta("lo")]]),
            (TaskStatus.IN_PROGRESS, []),
            (TaskStatus.COMPLETED, [[delta(" world")]]),
        ]
    )
    frames = parse(run(tail_of(store)))
    assert frames[0] == {"retry": "1000"}
    events = [f for f in frames[1:] if "id" in f]
    assert [int(f["id"]) for f in events] == [1, 2, 3, 4]
    assert [f["event"] for f in events] == ["restart", "delta", "delta", "delta"]
    assert "".join(json.loads(f["data"]).get("text", "") for f in events) == "Hello world"
    assert frames[-1] == {"event": "end", "data": '{"status":"COMPLETED"}'}


def test_resumes_exactly_after_the_last_event_id():
    store = LogStore([(TaskStatus.IN_PROGRESS, []), (TaskStatus.COMPLETED, [[delta("a"), delta("b"), delta("c")]])])
    frames = parse(run(tail_of(store), after=2))
    assert [(f["id"], json.loads(f["data"])["text"]) for f in frames if "id" in f] == [("3", "c")]


def test_later_reads_skip_the_batches_already_sent():
    store = LogStore(
        [
            (TaskStatus.IN_PROGRESS, []),
            (TaskStatus.IN_PROGRESS, [[delta("a"), delta("b")]]),
            (TaskStatus.IN_PROGRESS, [[delta("c")]]),
            (TaskStatus.COMPLETED, []),
        ]
    )
    run(tail_of(store))
    assert store.reads == [(0, 0), (2, 3), (3, 4)]


def test_a_connection_after_completion_replays_everything_then_ends():
    store = LogStore([(TaskStatus.COMPLETED, [[delta("a")], [delta("b")]])])
    frames = parse(run(tail_of(store)))
    assert [f.get("id") for f in frames[1:]] == ["1", "2", None]
    assert frames[-1]["event"] == "end"


def test_closes_without_an_end_event_at_the_time_limit_and_keeps_idle_streams_alive():
    store = LogStore([(TaskStatus.IN_PROGRESS, [])] * 50)
    now = [0.0]

    async def sleep(seconds: float) -> None:
        now[0] += seconds

    tail = EventTail(
        store,
        "acme",
        store.task.id,
        frames=EventFrames(lambda t: {}),
        limits=StreamLimits(poll_seconds=1, max_poll_seconds=1, keepalive_seconds=3, max_seconds=10),
        sleep=sleep,
        clock=lambda: now[0],
    )
    frames = run(tail)
    assert frames.count(b": keep-alive\n\n") == 3
    assert not any(b"event: end" in f for f in frames)


def test_opening_another_tenants_task_is_not_found():
    store = LogStore([])
    tail = EventTail(store, "other", store.task.id, frames=EventFrames(lambda t: {}))
    with pytest.raises(TaskNotFound):
        asyncio.run(tail.open())


def test_a_quiet_stream_polls_ever_less_often_and_quickly_again_once_events_flow():
    quiet = [(TaskStatus.CREATED, [])] * 12
    flowing = [(TaskStatus.IN_PROGRESS, [[{"type": "delta", "text": "x"}]]), (TaskStatus.IN_PROGRESS, [])]
    store = LogStore(quiet + flowing + [(TaskStatus.COMPLETED, [])])
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    limits = StreamLimits(poll_seconds=0.15, max_poll_seconds=2.0, keepalive_seconds=1000, max_seconds=1000)
    run(EventTail(store, "acme", store.task.id, frames=EventFrames(lambda t: {}), limits=limits, sleep=sleep))
    assert slept[0] == 0.15
    assert slept[:11] == sorted(slept[:11]) and max(slept) == 2.0  # grows while nothing happens, capped
    assert slept[11] == 0.15  # an event (or a new status): fast again
    # About one read pair every 2 s once quiet, instead of one every 0.15 s.
    assert sum(slept[:11]) > 10
