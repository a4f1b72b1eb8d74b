"""`asyncinfer smoke`'s long-task line against deployments that cannot run it (issue 30, point 5): a registry
without the long-task model, or a deployment that refuses long tasks at submit, is a skipped line that says
why, not a failure; anything else wrong is a failure. A real HTTP server on loopback plays the API (the
local stack's answers are tested by tests/e2e/test_smoke.py)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from asyncinfer.ops.smoke import LONG_TASK_REQUEST, Smoke, render

pytestmark = pytest.mark.integration

NAME = "long task: two steps on the runner"
TASK = "task_01a24aa0-2107-7e93-9bc8-e85c81e2f321"
DONE = {
    "id": TASK,
    "status": "COMPLETED",
    "created_at": "2026-12-06T09:12:17Z",
    "started_at": "2026-12-06T09:12:18Z",
    "completed_at": "2026-12-06T09:12:20Z",
    "progress": {"step": 2, "steps": 2, "percent": 100.0},
}


class Api:
    """Answers by (method, path): (status, body); records each request's body."""

    def __init__(self, answers: dict[tuple[str, str], tuple[int, dict]]) -> None:
        self.answers = answers
        self.bodies: list[dict] = []
        api = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    api.bodies.append(json.loads(self.rfile.read(length)))
                status, body = api.answers.get((self.command, self.path), (404, {"error": {"code": "not_found"}}))
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _answer

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> Api:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


class LongTaskOnly(Smoke):
    def checks(self) -> Iterator:
        yield NAME, self.long_task


def run(answers: dict) -> tuple[Api, object]:
    with Api(answers) as api:
        (line,) = LongTaskOnly(api.url, "ai_key", timeout=5).run()
    return api, line


MODEL = ("GET", "/v1/models/demo-deep-research")
SUBMIT = ("POST", "/v1/async")


def test_a_registry_without_the_long_task_model_is_a_skipped_line_that_says_so():
    _, line = run({})
    assert (line.ok, line.skipped) == (True, True)
    assert (
        line.detail
        == "skipped: this deployment's registry has no demo-deep-research, the long-task model this check runs"
    )
    assert render(line).startswith(f"- {NAME}")


@pytest.mark.parametrize("code", ["long_tasks_unavailable", "local_only_model", "unknown_model"])
def test_a_deployment_that_refuses_long_tasks_at_submit_is_skipped_with_its_answer(code):
    refused = (400, {"error": {"code": code, "message": "no long-task runner in this Region"}})
    _, line = run({MODEL: (200, {"id": "demo-deep-research"}), SUBMIT: refused})
    assert (line.ok, line.skipped) == (True, True)
    assert line.detail == f"skipped: {code}: no long-task runner in this Region"


def test_any_other_refusal_fails_the_line():
    refused = (400, {"error": {"code": "invalid_request", "message": "demo_research takes an object"}})
    _, line = run({MODEL: (200, {}), SUBMIT: refused})
    assert (line.ok, line.skipped) == (False, False)
    assert "POST /v1/async: HTTP 400" in line.detail and render(line).startswith(f"✗ {NAME}")


def test_the_request_asks_for_two_steps_and_the_line_reports_them_from_the_api():
    api, line = run(
        {MODEL: (200, {}), SUBMIT: (200, {"id": TASK, "status": "CREATED"}), ("GET", f"/v1/async/{TASK}"): (200, DONE)}
    )
    assert api.bodies == [LONG_TASK_REQUEST] and LONG_TASK_REQUEST["demo_research"]["steps"] == 1  # a search, a report
    assert line.ok and not line.skipped
    assert line.detail == f"{TASK} COMPLETED, step 2 of 2, ran 2 s (started 1 s after its submit)"


def test_a_task_that_reports_other_steps_fails_the_line():
    one_step = {**DONE, "progress": {"step": 1, "steps": 1, "percent": 100.0}}
    _, line = run({MODEL: (200, {}), SUBMIT: (200, {"id": TASK}), ("GET", f"/v1/async/{TASK}"): (200, one_step)})
    assert not line.ok and "reports steps (1, 1), not 2 of 2" in line.detail
