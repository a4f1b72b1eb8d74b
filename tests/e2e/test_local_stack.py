"""`make dev` (`python -m infra.local`) as a person runs it: a second one on a busy port, a stop by SIGTERM,
the commands its banner prints, run as printed in a shell that has no AWS configuration."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from tests.e2e.conftest import start_stack, stop_stack, wait_for

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
CLI = str(Path(sys.executable).with_name("asyncinfer"))
RUNNER = re.compile(r"runner\s+instance started \(pid (\d+)\)")


def shell_env(home: Path, **extra: str) -> dict[str, str]:
    """A shell's environment with no AWS configuration at all (no AWS_* variable, no ~/.aws)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "ASYNCINFER_"))}
    return {**env, "HOME": str(home), **extra}


def asyncinfer(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [CLI, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL
    )


def second_stack(port: int, stack_file: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("AWS_ENDPOINT_URL", "ASYNCINFER_DEV_KEY")}
    env.update(ASYNCINFER_PORT=str(port), ASYNCINFER_STACK_FILE=str(stack_file), PYTHONUNBUFFERED="1")
    return subprocess.run(
        [sys.executable, "-m", "infra.local"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    stack_file = tmp_path_factory.mktemp("stack") / "local.json"
    running = start_stack(ASYNCINFER_STACK_FILE=str(stack_file))
    running.stack_file = stack_file
    yield running
    if running.process.poll() is None:
        stop_stack(running)


def test_a_second_stack_on_the_busy_port_says_so_and_leaves_the_running_one_alone(stack):
    written = stack.stack_file.read_text()
    second = second_stack(urlsplit(stack.url).port, stack.stack_file)
    assert stack.stack_file.is_file(), "the running stack's settings file was deleted"
    assert stack.stack_file.read_text() == written, "the running stack's settings file was overwritten"
    said = (second.stdout + second.stderr).strip().splitlines()
    assert second.returncode == 1
    assert said == [
        f"asyncinfer: a local stack is already running at {stack.url} (pid {stack.process.pid}); "
        "stop it first (Ctrl-C in its terminal), or start another one with ASYNCINFER_PORT=<port>"
    ]
    with stack.client() as client:
        assert client.get("/v1/async").status_code == 200, "the running stack still answers its key"
    assert stack.process.poll() is None


def test_a_port_taken_by_another_program_is_named_and_nothing_is_started(tmp_path):
    stack_file = tmp_path / "local.json"
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        second = second_stack(port, stack_file)
    said = (second.stdout + second.stderr).strip().splitlines()
    assert second.returncode == 1
    assert said == [
        f"asyncinfer: port {port} on 127.0.0.1 is in use by another program; "
        "start the stack on another one with ASYNCINFER_PORT=<port>"
    ]
    assert not stack_file.exists()


@dataclass
class Stopped:
    stack_file: Path
    written: str
    exit_code: int
    left_behind: bool
    runner_pid: int
    output: str


@pytest.fixture(scope="module")
def stopped_by_sigterm(tmp_path_factory):
    """A stack stopped as `kill PID` (or a process manager) stops it, and what it wrote while it ran."""
    stack_file = tmp_path_factory.mktemp("sigterm") / "local.json"
    running = start_stack(ASYNCINFER_STACK_FILE=str(stack_file))
    runner_pid = int(next(m for line in running.output if (m := RUNNER.search(line))).group(1))
    try:
        written = stack_file.read_text()
        running.process.send_signal(signal.SIGTERM)
        code = running.process.wait(timeout=60)
        yield Stopped(stack_file, written, code, stack_file.exists(), runner_pid, "".join(running.output))
    finally:
        if running.process.poll() is None:
            running.process.kill()
        if alive(runner_pid):  # the stack's own child, orphaned if the stack died without stopping it
            os.kill(runner_pid, signal.SIGKILL)


def test_sigterm_stops_everything_and_removes_the_stacks_settings_file(stopped_by_sigterm):
    stopped = stopped_by_sigterm
    assert not stopped.left_behind, f"{stopped.stack_file} outlived the stack (exit {stopped.exit_code})"
    assert stopped.exit_code == 0
    assert "asyncinfer stopped" in stopped.output
    wait_for(lambda: not alive(stopped.runner_pid), timeout=15, what="the runner instance to stop")


def test_schedule_run_without_a_running_stack_is_one_clear_line(stopped_by_sigterm, tmp_path):
    stopped = stopped_by_sigterm
    env = shell_env(tmp_path, ASYNCINFER_STACK_FILE=str(stopped.stack_file))
    # What a stack killed outright (SIGKILL, a crash) leaves behind: its file, naming what is gone.
    stopped.stack_file.write_text(stopped.written)
    stale = asyncinfer(env, "schedule", "run", "nightly-summaries")
    assert "Traceback" not in stale.stderr, stale.stderr
    assert stale.returncode == 1
    [line] = stale.stderr.strip().splitlines()
    assert "is no longer running" in line and "make dev" in line, line
    stopped.stack_file.unlink()
    missing = asyncinfer(env, "schedule", "run", "nightly-summaries")
    assert "Traceback" not in missing.stderr, missing.stderr
    assert missing.returncode == 1
    [line] = missing.stderr.strip().splitlines()
    assert "no local stack is running" in line and "make dev" in line, line


def test_the_more_keys_command_works_as_printed_in_a_shell_without_aws_settings(stack, tmp_path):
    printed = next(line for line in stack.output if "more keys" in line).split("more keys", 1)[1].strip()
    command = printed.replace("--tenant NAME", "--tenant team-b")
    assert "--table" not in command and "AWS_" not in command, "nothing to type: the command finds the stack"
    done = subprocess.run(
        command,
        shell=True,
        cwd=ROOT,
        # Where this stack wrote its settings; `make dev`'s is .asyncinfer/local.json, the default.
        env=shell_env(tmp_path, ASYNCINFER_STACK_FILE=str(stack.stack_file)),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    key = done.stdout.strip()
    answer = httpx.get(f"{stack.url}/v1/async", headers={"Authorization": f"Bearer {key}"}, timeout=10)
    assert answer.status_code == 200, answer.text
    assert answer.json()["tasks"] == [], "a new tenant's key sees none of the dev tenant's tasks"
