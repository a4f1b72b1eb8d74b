"""Where a task stands, told by its stream and its reads, through the real handlers: a queued task's stream
(the streaming app, read frame by frame as it sends them) says its place in line, then that it started;
a running task whose progress tells how far it is shows its estimated finish on every surface's read."""

from __future__ import annotations

import asyncio
import json
import threading
from datetime import datetime

import pytest

from asyncinfer.domain.ids import as_uuid, parse_any
from asyncinfer.domain.model import Progress, TaskStatus, now_ms
from asyncinfer.handlers import stream as stream_handler
from tests.integration.conftest import REFERENCE_BODY

pytestmark = pytest.mark.integration


def submit(aws, tenant: str = "acme") -> str:
    status, task = aws.api("POST", "/v1/async", body=REFERENCE_BODY, tenant=tenant)
    assert status == 200, task
    return task["id"]


def parse(frame: bytes) -> dict:
    fields: dict = {}
    for line in frame.decode().split("\n"):
        name, _, value = line.partition(": ")
        fields[name] = value
    return fields


async def follow(path: str, tenant: str, on_frame) -> list[dict]:
    """GET `path` on the streaming app as Lambda Web Adapter sends it (the authorizer's tenant in the request
    context header); each frame goes to `on_frame` as it is sent, not once the stream has ended."""
    context = json.dumps({"authorizer": {"tenant": tenant}}).encode()
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"lambda"), (b"x-amzn-request-context", context)],
        "server": ("lambda", 80),
        "client": ("127.0.0.1", 50000),
    }
    ended = asyncio.Event()
    asked = False
    pending = b""
    frames: list[dict] = []

    async def receive() -> dict:
        nonlocal asked
        if not asked:
            asked = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await ended.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict) -> None:
        nonlocal pending
        if message["type"] == "http.response.start":
            assert message["status"] == 200
            return
        pending += message.get("body", b"")
        while b"\n\n" in pending:
            frame, pending = pending.split(b"\n\n", 1)
            if frame.startswith((b"retry:", b":")):
                continue
            frames.append(parse(frame))
            on_frame(frames[-1])
        if not message.get("more_body", False):
            ended.set()

    await stream_handler.app(scope, receive, send)
    return frames


def test_a_queued_tasks_stream_tells_its_place_in_line_then_that_it_started(aws, monkeypatch):
    # Slow enough to be seen running, and a stream that reads often.
    monkeypatch.setenv("ASYNCINFER_DEMO_CHAT_SECONDS", "1")
    monkeypatch.setenv("ASYNCINFER_POLL_SECONDS", "0.05")
    monkeypatch.setenv("ASYNCINFER_MAX_POLL_SECONDS", "0.2")
    stream_handler.settings.cache_clear()
    ahead = [submit(aws, tenant="globex"), submit(aws)]
    task_id = submit(aws)
    workers: list[threading.Thread] = []

    def on_frame(frame: dict) -> None:
        # Once the stream has told the place in line, the workers take the lane's tasks.
        if frame.get("event") == "status" and not workers:
            workers.append(threading.Thread(target=aws.run_worker))
            workers[0].start()

    frames = asyncio.run(follow(f"/v1/async/{task_id}/events", "acme", on_frame))
    workers[0].join(timeout=60)

    told = [json.loads(f["data"]) for f in frames if f.get("event") == "status"]
    assert told[0]["status"] == "CREATED" and told[0]["queue_position"] == len(ahead)
    assert "estimated_start_at" in told[0] and told[0]["service_tier"] == "default"
    started = next(i for i, s in enumerate(told) if s["status"] == "IN_PROGRESS")
    assert all(s["status"] == "CREATED" for s in told[:started])
    assert "queue_position" not in told[started]
    # Made by the stream, not stored: no id, and the log's events keep theirs, one after another.
    assert all("id" not in f for f in frames if f.get("event") == "status")
    logged = [f for f in frames if "id" in f]
    assert [int(f["id"]) for f in logged] == list(range(1, len(logged) + 1)) and logged
    assert frames[-1]["event"] == "end" and json.loads(frames[-1]["data"])["status"] == "COMPLETED"
    # A status frame comes before the deltas of the task it says started.
    kinds = [f.get("event") for f in frames]
    assert kinds.index("delta") > kinds.index("status") + started


def test_a_running_task_shows_its_estimated_finish_on_every_surfaces_read(aws):
    task_id = parse_any(submit(aws))
    started = now_ms() - 10_000
    aws.store.transition(
        "acme",
        task_id,
        expect={TaskStatus.CREATED},
        changes={"status": TaskStatus.IN_PROGRESS, "started_at": started, "progress": Progress(step=1, steps=4)},
    )
    # A quarter done in 10 s: about 40 s in all (the reads come a moment later, so a little more).
    status, native = aws.api("GET", f"/v1/async/task_{as_uuid(task_id)}")
    assert status == 200 and native["progress"] == {"step": 1, "steps": 4}
    at = datetime.fromisoformat(native["estimated_finish_at"].replace("Z", "+00:00")).timestamp() * 1000
    assert started + 39_000 <= at < started + 60_000  # ISO times are to the second
    status, pplx = aws.api("GET", f"/async/chat/completions/{as_uuid(task_id)}", function="api_perplexity")
    assert status == 200 and started // 1000 + 40 <= pplx["estimated_finish_at"] < started // 1000 + 60
    status, pgpt = aws.api("GET", f"/v1/messages/async/msg_{task_id}/status", function="api_privategpt")
    assert status == 200 and "estimated_finish_at" in pgpt and "queue_position" not in pgpt
    # Without the number of steps, no estimate.
    aws.store.transition("acme", task_id, expect={TaskStatus.IN_PROGRESS}, changes={"progress": Progress(step=2)})
    assert "estimated_finish_at" not in aws.api("GET", f"/v1/async/task_{as_uuid(task_id)}")[1]
