"""Long tasks on the durable runner, on the local stack: the runner's real handler under the official
testing SDK's local durable execution service, in a process of its own that these tests kill."""

from __future__ import annotations

import io
import json
import os
import re
import signal
import time
from typing import Any

import av
import boto3
import httpx
import pytest

from asyncinfer.ops.sse import sse_events
from asyncinfer.store.dynamodb import DynamoTaskStore
from tests.e2e.conftest import TABLE, Stack, start_stack, stop_stack, wait_for

pytestmark = pytest.mark.e2e

# The page's example timeline: created 10:00:00, completed 10:05:30.
PAGE_EXAMPLE = {"steps": 10, "step_seconds": 28}
INSTANCE = re.compile(r"runner\s+instance started \(pid (\d+)\)")
DURABLE = re.compile(r"durable\s+(http://\S+)")


def hex_id(public: str) -> str:
    return public.removeprefix("task_").replace("-", "")


def research(client, steps: int, step_seconds: float, prompt: str = "How do durable functions work?") -> str:
    body = {
        "model": "demo-deep-research",
        "messages": [{"role": "user", "content": prompt}],
        "demo_research": {"steps": steps, "step_seconds": step_seconds},
    }
    answer = client.post("/v1/async", json=body)
    assert answer.status_code == 200, answer.text
    return answer.json()["id"]


def read_stream(client, task_id: str, after: int = 0, hang_up_every: int | None = None) -> list[dict]:
    """Every event after `after` to the end, reconnecting with Last-Event-ID (and hanging up on purpose
    every `hang_up_every` events, to resume mid-run)."""
    events: list[dict] = []
    last = after
    while True:
        headers = {"Last-Event-ID": str(last)} if last else {}
        with client.stream("GET", f"/v1/async/{task_id}/events", headers=headers, timeout=60) as response:
            assert response.status_code == 200
            for count, event in enumerate(sse_events(response), start=1):
                if event.get("event") == "end":
                    return [*events, event]
                if event.get("event") == "status":
                    continue  # where the task stands, told by the stream: not in the log, no id
                events.append(event)
                last = int(event["id"])
                if hang_up_every and count == hang_up_every:
                    break


def spoken(events: list[dict]) -> str:
    return "".join(json.loads(e["data"])["text"] for e in events if e.get("event") == "delta")


def durable_client(stack: Stack) -> Any:
    url = next(m.group(1) for line in stack.output if (m := DURABLE.search(line)))
    return boto3.client(
        "lambda", endpoint_url=url, region_name="us-east-1", aws_access_key_id="local", aws_secret_access_key="local"
    )


def execution_of(stack: Stack, task_id: str) -> str:
    store = DynamoTaskStore(stack.aws("dynamodb"), TABLE)
    return wait_for(lambda: getattr(store.get("dev", hex_id(task_id)), "execution_arn", None), what="its execution")


def invocations(stack: Stack, task_id: str) -> int:
    history = durable_client(stack).get_durable_execution_history(DurableExecutionArn=execution_of(stack, task_id))
    return sum(1 for event in history["Events"] if event["EventType"] == "InvocationCompleted")


def runner_pid(stack: Stack) -> int:
    return int([m.group(1) for line in stack.output if (m := INSTANCE.search(line))][-1])


def finished(client, task_id: str, timeout: float) -> dict:
    return wait_for(
        lambda: (
            (t := client.get(f"/v1/async/{task_id}").json())["status"] in ("COMPLETED", "FAILED", "CANCELLED") and t
        ),
        timeout=timeout,
        interval=0.5,
        what="the task's end",
    )


@pytest.fixture(scope="module")
def page_example(stack):
    """The page's 330-second task on the default settings (the session stack's: a 900 s runner invocation,
    a 300 s worker), started first: it runs while the other tests do."""
    with stack.client() as client:
        return research(client, **PAGE_EXAMPLE), time.monotonic()


@pytest.fixture(scope="module")
def short_runner():
    """A stack whose runner invocations time out after 20 s, as a function configured so would."""
    running = start_stack(
        ASYNCINFER_RUNNER_TIMEOUT_SECONDS="20",
        ASYNCINFER_STEP_BUDGET_SECONDS="19",
        ASYNCINFER_DEADLINE_MARGIN_SECONDS="1",
        ASYNCINFER_DEMO_VIDEO_SECONDS="15",
        ASYNCINFER_JOB_POLL_SECONDS="5",
    )
    yield running
    if running.process.poll() is None:
        stop_stack(running)


@pytest.mark.timeout(600)
def test_a_long_research_task_outlives_its_invocations_and_its_stream_resumes_from_any_point(
    page_example, short_runner
):
    with short_runner.client() as client:
        # 14 searches, turns of 11 s: over 3 minutes in all, and each turn well inside its 20 s invocation
        # (its event-log writes add a few seconds on a busy machine; a turn that does not fit fails).
        task_id = research(client, steps=14, step_seconds=11)
        events = read_stream(client, task_id, hang_up_every=40)
        done = client.get(f"/v1/async/{task_id}").json()
        assert done["status"] == "COMPLETED", done
        assert json.loads(events[-1]["data"])["status"] == "COMPLETED"
        body = events[:-1]
        ids = [int(e["id"]) for e in body]
        assert ids == list(range(1, len(ids) + 1)), "contiguous, each once"
        message = done["choices"][0]["message"]
        steps = message["reasoning_steps"]
        assert len(steps) == 14
        assert spoken(body) == "".join(s["thought"] for s in steps) + message["content"]
        assert [e["event"] for e in body].count("tool_result") == 14
        assert "restart" not in {e["event"] for e in body}
        took = (_epoch(done["completed_at"]) - _epoch(done["created_at"])) / 60
        count = invocations(short_runner, task_id)
        print(f"\n{len(steps)} searches, {len(ids)} events, {took:.1f} min, {count} runner invocations of 20 s at most")
        assert took >= 3, f"{took:.1f} min"
        assert count >= 9
        for after in (1, len(ids) // 3, len(ids) - 1):
            assert read_stream(client, task_id, after=after)[:-1] == body[after:]


def test_a_runner_killed_mid_step_replays_to_the_same_result_without_duplicates(short_runner):
    with short_runner.client() as client:
        reference = research(client, steps=3, step_seconds=4, prompt="kill me")
        victim = research(client, steps=3, step_seconds=4, prompt="kill me")
        pid = runner_pid(short_runner)
        # Mid-step: the second model turn has begun streaming.
        wait_for(lambda: "Step 2 of 3" in stored_text(short_runner, victim), timeout=90, what="turn 2")
        os.kill(pid, signal.SIGKILL)
        wait_for(lambda: runner_pid(short_runner) != pid, timeout=30, what="a new runner instance")
        killed, calm = finished(client, victim, 120), finished(client, reference, 120)
        assert killed["status"] == calm["status"] == "COMPLETED"
        assert killed["choices"][0]["message"] == calm["choices"][0]["message"]
        assert killed["usage"] == calm["usage"], "usage counted once per turn"
        events = read_stream(client, victim)[:-1]
        assert [int(e["id"]) for e in events] == list(range(1, len(events) + 1))
        assert spoken(events) == spoken(read_stream(client, reference)[:-1]), "no event written twice"
        assert "restart" not in {e["event"] for e in events}


def test_cancelling_a_long_task_stops_its_execution_and_it_never_completes(short_runner):
    lambda_api = durable_client(short_runner)
    with short_runner.client() as client:
        task_id = research(client, steps=8, step_seconds=5, prompt="cancel me")
        wait_for(lambda: stored_text(short_runner, task_id), timeout=60, what="the first event")
        arn = execution_of(short_runner, task_id)
        cancelled = client.post(f"/v1/async/{task_id}/cancel")
        assert cancelled.status_code == 200
        assert client.get(f"/v1/async/{task_id}").json()["status"] == "CANCELLED"
        assert lambda_api.get_durable_execution(DurableExecutionArn=arn)["Status"] == "STOPPED"
        ended = read_stream(client, task_id)
        assert json.loads(ended[-1]["data"])["status"] == "CANCELLED"
        assert client.get(f"/v1/async/{task_id}").json()["status"] == "CANCELLED"


def test_a_video_job_completes_upstream_and_its_mp4_is_presigned_on_read(short_runner):
    with short_runner.client() as client:
        created = client.post("/v1/generation", json={"model": "demo-video", "config": {"prompt": "waves at dusk"}})
        assert created.status_code == 200, created.text
        gen_id = created.json()["id"]
        done = wait_for(
            lambda: (g := client.get(f"/v1/generation/{gen_id}").json())["status"] in ("completed", "failed") and g,
            timeout=90,
            interval=0.5,
            what="the video",
        )
    assert done["status"] == "completed", done
    (file,) = done["result"]["data"]
    assert file["file_type"] == "video"
    video = httpx.get(file["url"], timeout=30)
    assert video.status_code == 200
    with av.open(io.BytesIO(video.content)) as container:
        stream = container.streams.video[0]
        assert (stream.width, stream.height, stream.codec_context.name) == (1280, 720, "h264")
        assert sum(1 for _ in container.decode(video=0)) == 6 * 24


def test_a_deleted_video_job_ends_its_execution_within_a_poll_and_never_completes(short_runner):
    lambda_api = durable_client(short_runner)
    with short_runner.client() as client:
        created = client.post("/v1/generation", json={"model": "demo-video", "config": {"prompt": "cancel me"}})
        gen_id = created.json()["id"]
        arn = execution_of(short_runner, gen_id)
        wait_for(lambda: "job_started" in stored_types(short_runner, gen_id), timeout=30, what="the job's start")
        # NetMind's surface cancels by deleting; the task is CANCELLED (and hidden) at once.
        assert client.delete(f"/v1/generation/{gen_id}").status_code in (200, 204)
        cancelled_at = time.monotonic()
        ended = wait_for(
            lambda: (e := lambda_api.get_durable_execution(DurableExecutionArn=arn))["Status"] != "RUNNING" and e,
            timeout=30,
            what="the execution's end",
        )
        assert time.monotonic() - cancelled_at <= 5 + 2, "within one poll interval (5 s here)"
        assert json.loads(ended["Result"]) == {"outcome": "dropped"}
        shown = client.get(f"/v1/generation/{gen_id}").json()  # NetMind shows a deleted generation as such
        assert (shown["status"], shown["is_deleted"], shown["result"]) == ("cancelled", True, {})
    task = DynamoTaskStore(short_runner.aws("dynamodb"), TABLE).get("dev", hex_id(gen_id))
    assert task.status.value == "CANCELLED" and not task.outputs


@pytest.mark.timeout(660)
def test_the_pages_330_second_task_completes_on_the_default_settings(stack, page_example):
    task_id, began = page_example
    with stack.client() as client:
        done = finished(client, task_id, timeout=max(60, 600 - (time.monotonic() - began)))
    assert done["status"] == "COMPLETED", done
    took = _epoch(done["completed_at"]) - _epoch(done["created_at"])
    assert took >= 330, took
    assert len(done["choices"][0]["message"]["reasoning_steps"]) == PAGE_EXAMPLE["steps"]


def stored_types(stack: Stack, task_id: str) -> list[str]:
    return [e["type"] for e in DynamoTaskStore(stack.aws("dynamodb"), TABLE).read_events("dev", hex_id(task_id))]


def stored_text(stack: Stack, task_id: str) -> str:
    """What the task has said so far, from its event log in the table (a stream would wait for the end)."""
    events = DynamoTaskStore(stack.aws("dynamodb"), TABLE).read_events("dev", hex_id(task_id))
    return "".join(e.get("text", "") for e in events if e.get("type") == "delta")


def _epoch(stamp: str) -> float:
    return time.mktime(time.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ")) - time.timezone
