"""The local stack's console says an expected outcome in one line (issue 31, point 2): cancelling a running
long task used to print four tracebacks (87 lines: 'Invalid checkpoint token', BackgroundThreadError) from
the runner although the task was correctly CANCELLED."""

from __future__ import annotations

import httpx
import pytest

from infra.local.quiet import ONE_LINE
from tests.e2e.conftest import start_stack, stop_stack, wait_for

pytestmark = pytest.mark.e2e


def test_cancelling_a_running_long_task_is_one_line_on_the_console():
    stack = start_stack()
    try:
        with httpx.Client(base_url=stack.url, headers={"Authorization": f"Bearer {stack.key}"}, timeout=10) as c:
            body = {
                "model": "demo-deep-research",
                "messages": [{"role": "user", "content": "Cancel me midway"}],
                "demo_research": {"steps": 3, "step_seconds": 2},
            }
            task = c.post("/v1/async", json=body).json()

            wait_for(lambda: c.get(f"/v1/async/{task['id']}").json()["status"] == "IN_PROGRESS", what="running")
            assert c.post(f"/v1/async/{task['id']}/cancel").json()["status"] == "CANCELLED"
            # The runner's invocation notices at its next checkpoint, within a turn (2 s) of the cancel.
            wait_for(lambda: any(ONE_LINE in line for line in stack.output), timeout=30, what="the one line")
            assert c.get(f"/v1/async/{task['id']}").json()["status"] == "CANCELLED"
    finally:
        stop_stack(stack)
    console = "".join(stack.output)
    assert "Traceback" not in console, console[-3000:]
    assert sum(ONE_LINE in line for line in stack.output) == 1, console[-3000:]
