"""Every client call is bounded by its own timeout, inside an open event stream too: the stream of a long
task that keeps talking (a deep-research task's deltas, or keep-alives) ends at the caller's deadline, and
the `on_timeout` policy then does what it says. Bounds are the call's timeout plus 2 s."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from asyncinfer_client import AsyncClient, Client, WaitTimeout

from tests.e2e.conftest import wait_for

pytestmark = pytest.mark.e2e
AIC = str(Path(sys.executable).with_name("aic"))
# A long task (the durable runner's) that streams for about a minute.
LONG = {"demo_research": {"steps": 3, "step_seconds": 20}}
SLACK = 2.0
RUNNING = ("CREATED", "IN_PROGRESS")


def long_task(client: Client, prompt: str):
    return client.submit("demo-deep-research", prompt=prompt, **LONG)


def test_events_end_at_their_timeout_while_the_stream_is_talking(stack):
    with Client(stack.url, stack.key) as client:
        task = long_task(client, "events bounded")
        seen = []
        started = time.monotonic()
        with pytest.raises(WaitTimeout):
            for event in task.events(timeout=3):
                seen.append(event)
        took = time.monotonic() - started
        assert took < 3 + SLACK, f"events(timeout=3) returned after {took:.1f} s"
        assert client.attach(task.id).get()["status"] in RUNNING
        task.cancel()


@pytest.mark.parametrize("policy", ["detach", "cancel", "raise"])
def test_run_applies_its_policy_at_its_timeout(stack, policy):
    with Client(stack.url, stack.key) as client:
        task = long_task(client, f"run {policy}")
        started = time.monotonic()
        if policy == "raise":
            with pytest.raises(WaitTimeout):
                task.run(timeout=2, on_timeout=policy)
            outcome = client.attach(task.id).get()
        else:
            outcome = task.run(timeout=2, on_timeout=policy)
        took = time.monotonic() - started
        assert took < 2 + SLACK, f"run(timeout=2, on_timeout={policy!r}) returned after {took:.1f} s"
        assert outcome["status"] in (("CANCELLED",) if policy == "cancel" else RUNNING), outcome
        if policy != "cancel":
            task.cancel()


@pytest.mark.parametrize("policy", ["detach", "cancel"])
def test_the_async_clients_run_applies_its_policy_at_its_timeout(stack, policy):
    async def scenario() -> tuple[float, dict, str]:
        async with AsyncClient(stack.url, stack.key) as client:
            task = await client.submit("demo-deep-research", prompt=f"async {policy}", **LONG)
            started = time.monotonic()
            outcome = await task.run(timeout=2, on_timeout=policy)
            took = time.monotonic() - started
            if policy == "detach":
                await task.cancel()
            return took, outcome, task.id

    took, outcome, _ = asyncio.run(scenario())
    assert took < 2 + SLACK, f"AsyncClient run(timeout=2, on_timeout={policy!r}) returned after {took:.1f} s"
    assert outcome["status"] in (("CANCELLED",) if policy == "cancel" else RUNNING), outcome


def aic(stack, tmp_path, *args: str) -> tuple[subprocess.CompletedProcess, float]:
    env = {
        **os.environ,
        "ASYNCINFER_BASE_URL": stack.url,
        "ASYNCINFER_API_KEY": stack.key,
        "XDG_STATE_HOME": str(tmp_path / "state"),
        "COLUMNS": "200",
    }
    started = time.monotonic()
    done = subprocess.run([AIC, *args], env=env, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    return done, time.monotonic() - started


def test_aic_run_detaches_at_its_timeout_by_default_with_exit_124_and_the_watch_line(stack, tmp_path):
    done, took = aic(stack, tmp_path, "run", "demo-deep-research", "tides", "--timeout", "3")
    # The process's own start-up (imports) is not the call's: bound the call, allow the interpreter a second.
    assert took < 3 + SLACK + 1, f"aic run --timeout 3 exited after {took:.1f} s"
    assert done.returncode == 124, (done.returncode, done.stderr)
    (line,) = [line for line in done.stderr.splitlines() if "aic watch" in line]
    task_id = line.rsplit(" ", 1)[1]
    assert line.endswith(f"follow it with: aic watch {task_id}") and task_id.startswith("task_")
    with Client(stack.url, stack.key) as client:
        assert client.attach(task_id).get()["status"] in RUNNING
        client.attach(task_id).cancel()


def test_aic_run_on_timeout_cancel_cancels_the_task(stack, tmp_path):
    done, took = aic(stack, tmp_path, "run", "demo-deep-research", "tides", "--timeout", "3", "--on-timeout", "cancel")
    assert took < 3 + SLACK + 1, f"aic run --timeout 3 --on-timeout cancel exited after {took:.1f} s"
    assert done.returncode == 1, (done.returncode, done.stderr)
    task_id = next(w for w in done.stderr.split() if w.startswith("task_"))
    assert "CANCELLED" in done.stderr
    with Client(stack.url, stack.key) as client:
        wait_for(lambda: client.attach(task_id).get()["status"] == "CANCELLED", timeout=10, what="cancelled")
