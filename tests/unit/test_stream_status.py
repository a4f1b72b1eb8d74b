"""A task's stream tells where the task stands: `status` frames (made by the stream, never stored, without an
id) while it waits (its place in line and estimated start, when they change) and when it starts (its
progress and estimated finish), with the store and the clock faked."""

import asyncio
import json
import logging
from itertools import pairwise

from asyncinfer.domain.lanes import Standing
from asyncinfer.domain.model import Progress, ServiceTier, Task, TaskKind, TaskStatus, new_task_id
from asyncinfer.tasks import reads
from asyncinfer.tasks.standing import lane_standing
from asyncinfer.tasks.streaming import EventFrames, EventTail, StreamLimits

STARTED = 1_000_000
NOW = STARTED + 10_000  # the wall clock the status frames are rendered at


class ScriptedStore:
    """Each read of the task takes the next scripted step: the task's changes and the events it wrote."""

    def __init__(self, steps: list[tuple[dict, list[dict]]]) -> None:
        self.task = Task(id=new_task_id(), tenant="acme", kind=TaskKind.CHAT, model="m", created_at=1, updated_at=1)
        self.steps = steps
        self.log: list[dict] = []
        self.gets = 0

    def get(self, tenant, task_id):
        self.gets += 1
        if self.steps:
            changes, events = self.steps.pop(0)
            self.task = self.task.model_copy(update=changes)
            self.log += [{"seq": len(self.log) + 1 + i, **e} for i, e in enumerate(events)]
        return self.task

    def read_events(self, tenant, task_id, after_seq=0, scan_from=0):
        return [e for e in self.log if e["seq"] > after_seq]


class Clock:
    """Monotonic time that only the stream's sleeps advance."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds


class Standings:
    """A fake TaskService.standing: the standing for the time it is read at, and when it was read."""

    def __init__(self, clock: Clock, by_time) -> None:
        self.clock = clock
        self.by_time = by_time
        self.reads: list[float] = []

    def __call__(self, task: Task) -> Standing | None:
        self.reads.append(self.clock.now)
        return self.by_time(self.clock.now)


def render(task: Task, standing: Standing | None) -> dict:
    return reads.status_event(task, standing, str, now=NOW)


def frames_of(store, standing=None, frames=None, after: int = 0, clock: Clock | None = None, **limits) -> list[dict]:
    clock = clock or Clock()
    tail = EventTail(
        store,
        "acme",
        store.task.id,
        frames=frames or EventFrames(lambda t: {"status": t.status.value}, render),
        limits=StreamLimits(**{"poll_seconds": 0.25, "max_poll_seconds": 1.0, "keepalive_seconds": 1000, **limits}),
        sleep=clock.sleep,
        clock=clock,
        standing=standing,
    )

    async def collect():
        await tail.open()
        return [frame async for frame in tail.stream(after)]

    out = []
    for frame in asyncio.run(collect())[1:]:  # after `retry:`
        fields = dict(line.split(": ", 1) for line in frame.decode().strip("\n").split("\n"))
        out.append({**fields, "data": json.loads(fields["data"])})
    return out


def statuses(frames: list[dict]) -> list[dict]:
    return [f["data"] for f in frames if f.get("event") == "status"]


def delta(text: str) -> dict:
    return {"type": "delta", "text": text}


def waiting(polls: int) -> list[tuple[dict, list[dict]]]:
    return [({}, [])] * polls


def test_a_queued_task_is_told_its_place_when_it_changes_then_its_start_and_progress():
    clock = Clock()
    # The place moves up every 3 s; the estimate stays put.
    standing = Standings(clock, lambda t: Standing(max(3 - int(t // 3), 0), 50_000))
    running = {"status": TaskStatus.IN_PROGRESS, "started_at": STARTED, "progress": Progress(step=1, steps=4)}
    store = ScriptedStore(
        [
            ({}, []),  # open()
            *waiting(40),  # 10 s and more of waiting, a read every 0.25..1 s
            (running, [delta("a"), delta("b")]),
            ({}, [delta("c")]),
            ({"progress": Progress(step=2, steps=4)}, [{"type": "progress", "step": 2}]),
            ({"status": TaskStatus.COMPLETED}, []),
        ]
    )
    frames = frames_of(store, standing, clock=clock, standing_seconds=2.0)

    told = statuses(frames)
    assert [(s["status"], s.get("queue_position")) for s in told] == [
        ("CREATED", 3),
        ("CREATED", 2),
        ("CREATED", 1),
        ("CREATED", 0),
        ("IN_PROGRESS", None),
        ("IN_PROGRESS", None),
    ]
    assert told[0] == {
        "type": "status",
        "status": "CREATED",
        "service_tier": "default",
        "queue_position": 3,
        "estimated_start_at": "50000",
    }
    assert told[4]["progress"] == {"step": 1, "steps": 4} and told[4]["estimated_finish_at"] == str(STARTED + 40_000)
    assert told[5]["progress"] == {"step": 2, "steps": 4} and told[5]["estimated_finish_at"] == str(STARTED + 20_000)
    assert "estimated_start_at" not in told[4]
    # Not on every poll: the place in line is read at most once every 2 s while the task waits, never after.
    assert len(standing.reads) < store.gets / 2
    assert all(b - a >= 2.0 for a, b in pairwise(standing.reads))
    assert max(standing.reads) < clock.now - 1
    # Synthetic: no id, so the log's events keep theirs, one after another, and the end comes last.
    assert all("id" not in f for f in frames if f.get("event") == "status")
    assert [int(f["id"]) for f in frames if "id" in f] == [1, 2, 3, 4]
    assert frames[-1]["event"] == "end" and frames[-1]["data"] == {"status": "COMPLETED"}
    # The status frame that says it started comes before what it wrote once started.
    kinds = [f.get("event") for f in frames]
    assert kinds.index("delta") == kinds.index("status", 4) + 1


def test_an_estimate_that_moves_a_little_is_not_sent_again_one_that_moves_a_lot_is():
    clock = Clock()
    # The same place; the estimate drifts 1 s per read for 8 s, then jumps a minute.
    standing = Standings(clock, lambda t: Standing(5, 100_000 + int(t) * 1000 + (60_000 if t >= 8 else 0)))
    store = ScriptedStore([*waiting(30), ({"status": TaskStatus.CANCELLED}, [])])
    told = statuses(frames_of(store, standing, clock=clock))
    starts = [int(s["estimated_start_at"]) for s in told]
    assert len(starts) >= 2 and starts[-1] - starts[0] >= 60_000
    assert all(b - a >= 5_000 for a, b in pairwise(starts))
    assert len(standing.reads) > len(told)


def test_resuming_with_last_event_id_is_unchanged_by_status_frames():
    running = {"status": TaskStatus.IN_PROGRESS, "started_at": STARTED}
    store = ScriptedStore([({}, []), (running, [delta("a"), delta("b"), delta("c")])])
    store.steps.append(({"status": TaskStatus.COMPLETED}, []))
    frames = frames_of(store, after=2)
    assert [(f.get("event"), f.get("id")) for f in frames] == [("status", None), ("delta", "3"), ("end", None)]
    assert frames[0]["data"] == {"type": "status", "status": "IN_PROGRESS", "service_tier": "default"}


def test_an_ended_task_replays_its_log_with_no_status_frame():
    store = ScriptedStore([({"status": TaskStatus.COMPLETED}, [delta("a")])])
    standing = Standings(Clock(), lambda t: Standing(0, None))
    assert [f.get("event") for f in frames_of(store, standing)] == ["delta", "end"]
    assert standing.reads == []


def test_frames_without_status_send_none_and_read_no_standing():
    class ChunkLike:  # a surface imitating OpenAI's chunk stream: no `status`
        def event(self, seq, event):
            return f"id: {seq}\ndata: {json.dumps(event)}\n\n".encode()

        def end(self, task):
            return b"data: {}\n\n"

    for frames in (ChunkLike(), EventFrames(lambda t: {})):  # nor does EventFrames without render_status
        standing = Standings(Clock(), lambda t: Standing(0, None))
        store = ScriptedStore([*waiting(5), ({"status": TaskStatus.IN_PROGRESS}, [delta("a")])])
        store.steps.append(({"status": TaskStatus.COMPLETED}, []))
        assert not statuses(frames_of(store, standing, frames=frames))
        if isinstance(frames, ChunkLike):
            assert standing.reads == []  # never read for a surface that cannot tell it


def test_a_standing_that_cannot_be_read_is_logged_once_and_the_stream_goes_on(caplog):
    clock = Clock()
    calls = []

    def broken(task):
        calls.append(task.id)
        raise PermissionError("AccessDenied on the queued index")

    store = ScriptedStore([*waiting(20), ({"status": TaskStatus.IN_PROGRESS}, [delta("a")])])
    store.steps.append(({"status": TaskStatus.COMPLETED}, []))
    with caplog.at_level(logging.WARNING, logger="asyncinfer.tasks.streaming"):
        frames = frames_of(store, broken, clock=clock)
    assert len(calls) == 1 and "could not read the standing" in caplog.text
    assert [(s["status"], "queue_position" in s) for s in statuses(frames)] == [
        ("CREATED", False),
        ("IN_PROGRESS", False),
    ]
    assert frames[-1]["event"] == "end"


class LaneStore:
    def __init__(self, own: int = 4) -> None:
        self.asked: list[tuple] = []
        self.own = own

    def count_queued_before(self, lane, task_id, limit, tenant=None):
        self.asked.append(("count", lane, task_id, limit, tenant))
        return 4 if tenant is None else self.own

    def starts_since(self, lane, since_ms):
        self.asked.append(("starts", lane, since_ms))
        return [(STARTED - 4_000, 10), (STARTED - 3_000, 10)]


def test_a_queued_tasks_standing_is_its_place_in_its_lane_and_its_lanes_pace():
    """lane_standing, which reads (TaskService.standing) and the stream share: the count before it in its
    lane, and its start at the lane's recent pace."""
    task = ScriptedStore([]).task.model_copy(update={"service_tier": ServiceTier.FLEX})
    store = LaneStore()
    assert lane_standing(store, now=lambda: STARTED)(task) == Standing(4, STARTED + 5 * 4_000 // 20)
    assert [asked[:2] for asked in store.asked] == [("count", "flex"), ("count", "flex"), ("starts", "flex")]
    assert store.asked[1][-1] == task.tenant  # its own tasks ahead: all 4, so the place is exact
    assert lane_standing(store)(task.model_copy(update={"status": TaskStatus.IN_PROGRESS})) is None
    # Another tenant's task ahead: the fair queue's order among tenants is not known, the place an estimate.
    assert lane_standing(LaneStore(own=3), now=lambda: STARTED)(task).estimated
