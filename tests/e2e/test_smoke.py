"""`asyncinfer smoke` (what a team runs after `make deploy`) against the real local stack: the CLI as a user
runs it, every line checked, a webhook to a loopback receiver, and a failure that makes it exit non-zero."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from standardwebhooks import Webhook

from tests.e2e.conftest import start_stack, stop_stack
from tests.e2e.test_long_tasks import execution_of
from tests.support.webhook_receiver import WebhookReceiver

pytestmark = pytest.mark.e2e

CLI = str(Path(sys.executable).with_name("asyncinfer"))
LINE = re.compile(r"^([✓✗-]) (.{40}) +(\d+\.\d\d) s  (.*)$")
CHECKS = [
    "docs",
    "async: submit, poll, list",
    "async: cancel",
    "async: SSE stream, resumed",
    "long task: two steps on the runner",
    "perplexity: submit, poll, list",
    "privategpt: submit, SSE stream, status",
    "netmind: image, PNG decoded",
    "netmind: audio, WAV decoded, delete",
]


def smoke(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([CLI, "smoke", *args], capture_output=True, text=True, timeout=300, env=env)


def lines_of(output: str) -> list[tuple[str, str, float, str]]:
    found = [LINE.match(line) for line in output.splitlines()]
    return [(m[1], m[2].strip(), float(m[3]), m[4]) for m in found if m]


def test_smoke_passes_against_the_local_stack_with_a_signed_webhook(stack):
    with WebhookReceiver() as receiver, stack.client() as client:
        done = smoke("--url", stack.url, "--key", stack.key, "--webhook", receiver.url, "--timeout", "60")
        secret = client.get("/v1/webhooks/secret").json()["secret"]
    assert done.returncode == 0, done.stdout + done.stderr
    lines = lines_of(done.stdout)
    assert [name for _, name, _, _ in lines] == [*CHECKS, "webhook: delivered"]
    assert all(mark == "✓" for mark, *_ in lines)
    assert all(0 <= seconds < 60 for _, _, seconds, _ in lines)
    details = {name: detail for _, name, _, detail in lines}
    assert re.search(r"\d+x\d+ PNG", details["netmind: image, PNG decoded"])
    assert "1.00 s WAV, deleted" in details["netmind: audio, WAV decoded, delete"]
    assert re.search(r"resumed after \d+", details["async: SSE stream, resumed"])
    # A long task of two steps on the runner (the local durable service), its steps and times from the API.
    long_task = re.fullmatch(
        r"(task_[0-9a-f-]+) COMPLETED, step 2 of 2, ran (\d+) s \(started (\d+) s after its submit\)",
        details["long task: two steps on the runner"],
    )
    assert long_task, details["long task: two steps on the runner"]
    with stack.client() as client:
        task = client.get(f"/v1/async/{long_task[1]}").json()
    assert task["model"] == "demo-deep-research" and task["progress"]["step"] == task["progress"]["steps"] == 2
    assert execution_of(stack, long_task[1])  # it ran on the runner (an execution of its own), not the worker
    assert done.stdout.rstrip().endswith(f"smoke: all {len(CHECKS) + 1} checks passed")
    (hit,) = receiver.received
    payload = Webhook(secret).verify(hit.body, hit.headers)
    assert payload["type"] == "task.completed"


def test_smoke_fails_with_a_line_per_failed_check_when_the_key_is_wrong(stack):
    done = smoke("--url", stack.url, "--key", "ai_not-a-key", "--timeout", "5")
    assert done.returncode == 1
    lines = lines_of(done.stdout)
    assert [name for _, name, _, _ in lines] == CHECKS
    # The docs are public; everything behind the key fails with what the API answered.
    assert lines[0][0] == "✓" and all(mark == "✗" for mark, *_ in lines[1:])
    assert "HTTP 401" in lines[1][3]
    assert done.stdout.rstrip().endswith(f"smoke: {len(CHECKS) - 1} of {len(CHECKS)} checks failed")


def test_smoke_takes_url_and_key_from_the_environment_or_says_what_is_missing(stack):
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASYNCINFER_")}
    missing = smoke(env=env)
    assert missing.returncode == 2 and "--url and --key are required" in missing.stderr
    from_env = smoke("--timeout", "5", env={**env, "ASYNCINFER_BASE_URL": stack.url, "ASYNCINFER_API_KEY": "ai_x"})
    assert from_env.returncode == 1 and "HTTP 401" in from_env.stdout  # it reached the stack, with that key


def test_smoke_needs_only_the_custom_domain_url_and_a_key():
    # The stack answers as API Gateway does through a custom domain mapped at its root: the domain's name in
    # the request, the path as sent, no stage. The URL is given as the CustomDomainUrl output prints it.
    running = start_stack(ASYNCINFER_LOCAL_DOMAIN_NAME="api.example.test")
    try:
        done = smoke("--url", f"{running.url}/", "--key", running.key, "--timeout", "60")
    finally:
        stop_stack(running)
    assert done.returncode == 0, done.stdout + done.stderr
    assert [name for _, name, _, _ in lines_of(done.stdout)] == CHECKS
    assert done.stdout.rstrip().endswith(f"smoke: all {len(CHECKS)} checks passed")
