"""CORS through the local stack, as a browser enforces it (Debian's Chromium, driven by Playwright): a page served
from another loopback origin submits a task with the official fetch API, reads it, follows its SSE stream and
reads the error answers, the functions' and the gateway's; the same page on an origin not allowed is refused by
the browser, and its submit never reaches the API."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from asyncinfer.surfaces.edge import UNAUTHORIZED
from tests.e2e.conftest import Stack, start_stack, stop_stack
from tests.e2e.test_docs_browser import CHROMIUM, FLAGS

pytestmark = pytest.mark.e2e

# The page's script: everything a browser app does with a task, with fetch; what it saw, as JSON.
SCRIPT = """
async function run(api, key) {
  const auth = {Authorization: `Bearer ${key}`};
  const seen = {};
  const submitted = await fetch(`${api}/v1/async`, {
    method: 'POST',
    headers: {...auth, 'Content-Type': 'application/json', 'Idempotency-Key': crypto.randomUUID()},
    body: JSON.stringify({model: 'mirothinker-1-7-deepresearch-mini',
                          messages: [{role: 'user', content: 'Hello from a browser on another origin'}]}),
  });
  seen.submit = {status: submitted.status, body: await submitted.json()};
  const id = seen.submit.body.id;
  const read = await fetch(`${api}/v1/async/${id}`, {headers: auth});
  seen.read = {status: read.status, body: await read.json(), poll_after: read.headers.get('openai-poll-after-ms')};
  const stream = await fetch(`${api}/v1/async/${id}/events`, {headers: {...auth, 'Last-Event-ID': '0'}});
  seen.stream = {status: stream.status, type: stream.headers.get('content-type'), text: ''};
  const reader = stream.body.pipeThrough(new TextDecoderStream()).getReader();
  for (let part = await reader.read(); !part.done; part = await reader.read()) seen.stream.text += part.value;
  const done = await fetch(`${api}/v1/async/${id}`, {headers: auth});
  seen.done = await done.json();
  const missing = await fetch(`${api}/v1/async/task_nothing_here`, {headers: auth});
  seen.missing = {status: missing.status, body: await missing.json()};
  const refused = await fetch(`${api}/v1/async`, {headers: {Authorization: 'Bearer not-a-key'}});
  seen.refused = {status: refused.status, body: await refused.json()};
  return seen;
}

async function attempt(request) {
  try { const answer = await request(); return {status: answer.status}; }
  catch (error) { return {error: `${error.name}: ${error.message}`}; }
}
"""
PAGE = f"<!doctype html><html><head><title>a browser app</title><script>{SCRIPT}</script></head><body></body></html>"


def _serve_page(root: Path) -> Iterator[str]:
    (root / "index.html").write_text(PAGE)
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_Quiet, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def app_origin(tmp_path_factory) -> Iterator[str]:
    yield from _serve_page(tmp_path_factory.mktemp("app"))


@pytest.fixture(scope="module")
def other_origin(tmp_path_factory) -> Iterator[str]:
    yield from _serve_page(tmp_path_factory.mktemp("other"))


@pytest.fixture(scope="module")
def cors_stack(app_origin) -> Iterator[Stack]:
    # One origin: API Gateway's own answers (the 401 below) can name it too (asyncinfer.surfaces.cors).
    running = start_stack(ASYNCINFER_CORS_ORIGINS=app_origin)
    yield running
    if running.process.poll() is None:
        stop_stack(running)


@pytest.fixture(scope="module")
def browser(tmp_path_factory) -> Iterator:
    if CHROMIUM is None:
        if not os.environ.get("CI"):
            pytest.skip("Chromium is not installed (apt-get install chromium); CI installs it and runs this")
        pytest.fail("Chromium is not installed: CI must install Debian's chromium (.ci/run does)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("profile")), executable_path=CHROMIUM, headless=True, args=FLAGS
        )
        try:
            yield context
        finally:
            context.close()


def open_page(browser, origin: str):
    page = browser.new_page()
    page.goto(f"{origin}/index.html", wait_until="load")
    return page


def test_a_page_on_an_allowed_origin_submits_reads_and_follows_the_stream(browser, app_origin, cors_stack):
    assert app_origin.split(":")[-1] != cors_stack.url.split(":")[-1], "another origin than the API's"
    page = open_page(browser, app_origin)
    seen = page.evaluate("([api, key]) => run(api, key)", [cors_stack.url, cors_stack.key])

    assert seen["submit"]["status"] == 200 and seen["submit"]["body"]["status"] == "CREATED"
    assert seen["read"]["status"] == 200 and seen["read"]["body"]["id"] == seen["submit"]["body"]["id"]
    if seen["read"]["body"]["status"] in ("CREATED", "QUEUED", "IN_PROGRESS"):
        assert seen["read"]["poll_after"] is not None, "an exposed header the page can read"
    assert seen["stream"]["status"] == 200 and seen["stream"]["type"].startswith("text/event-stream")
    assert "event: delta" in seen["stream"]["text"] and "event: end" in seen["stream"]["text"]
    assert seen["done"]["status"] == "COMPLETED"
    # Error answers are readable too: a function's 404 and the gateway's own 401.
    assert seen["missing"]["status"] == 404 and seen["missing"]["body"]["error"]["code"]
    assert seen["refused"] == {"status": 401, "body": UNAUTHORIZED}


def test_the_same_page_on_another_origin_is_refused_and_changes_nothing(browser, other_origin, cors_stack):
    with cors_stack.client() as client:
        before = client.get("/v1/async", params={"limit": 100}).json()["tasks"]
    page = open_page(browser, other_origin)
    submitted = page.evaluate(
        """([api, key]) => attempt(() => fetch(`${api}/v1/async`, {method: 'POST',
              headers: {Authorization: `Bearer ${key}`, 'Content-Type': 'application/json'},
              body: JSON.stringify({model: 'mirothinker-1-7-deepresearch-mini',
                                    messages: [{role: 'user', content: 'from a page not allowed'}]})}))""",
        [cors_stack.url, cors_stack.key],
    )
    # A simple request (no preflight) reaches the API, but its answer is kept from the page.
    listed = page.evaluate("([api]) => attempt(() => fetch(`${api}/v1/async`))", [cors_stack.url])
    assert "Failed to fetch" in submitted.get("error", ""), submitted
    assert "Failed to fetch" in listed.get("error", ""), listed
    with cors_stack.client() as client:
        after = client.get("/v1/async", params={"limit": 100}).json()["tasks"]
    assert [task["id"] for task in after] == [task["id"] for task in before], "the refused submit made no task"


def test_the_preflight_names_what_a_page_may_send_to_the_allowed_origin_only(app_origin, other_origin, cors_stack):
    asked = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization,content-type"}
    with httpx.Client(base_url=cors_stack.url, timeout=10) as client:
        allowed = client.options("/v1/async", headers={"Origin": app_origin, **asked})
        other = client.options("/v1/async", headers={"Origin": other_origin, **asked})
        stream = client.options("/v1/async/task_x/events", headers={"Origin": app_origin, **asked})
        unknown = client.options("/v1/nothing", headers={"Origin": app_origin, **asked})
    assert allowed.status_code == 204
    assert allowed.headers["access-control-allow-origin"] == app_origin
    assert {"Authorization", "Content-Type", "Idempotency-Key", "Last-Event-ID", "Prefer"} <= {
        name.strip() for name in allowed.headers["access-control-allow-headers"].split(",")
    }
    assert "POST" in allowed.headers["access-control-allow-methods"]
    assert stream.headers["access-control-allow-origin"] == app_origin
    assert "access-control-allow-origin" not in other.headers and other.headers["vary"] == "Origin"
    assert unknown.status_code == 404


def test_without_cors_origins_no_answer_carries_cors(stack, app_origin):
    with stack.client() as client:
        answer = client.get("/v1/async", headers={"Origin": app_origin})
        preflight = client.options("/v1/async", headers={"Origin": app_origin})
    assert answer.status_code == 200 and not any(name.startswith("access-control-") for name in answer.headers)
    assert preflight.status_code == 404


def test_answers_name_their_origin_only_for_an_allowed_one(app_origin, other_origin, cors_stack):
    with cors_stack.client() as client:
        mine = client.get("/v1/async", headers={"Origin": app_origin})
        theirs = client.get("/v1/async", headers={"Origin": other_origin})
    assert mine.headers["access-control-allow-origin"] == app_origin
    assert "Retry-After" in mine.headers["access-control-expose-headers"]
    assert "access-control-allow-origin" not in theirs.headers
    assert theirs.headers["vary"] == "Origin"
