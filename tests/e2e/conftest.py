"""The local stack started for real (`python -m infra.local`) and driven over HTTP."""

from __future__ import annotations

import os
import queue
import re
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
READY = re.compile(r"asyncinfer ready on (http://\S+)")
EMULATOR = re.compile(r"emulator\s+(http://\S+)")
TABLE = "asyncinfer-dev-tasks"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(condition: Callable[[], Any], timeout: float = 30, interval: float = 0.05, what: str = "condition"):
    """Poll `condition` until it returns something truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(interval)


@dataclass
class Stack:
    process: subprocess.Popen
    url: str
    key: str
    emulator: str
    output: list[str] = field(default_factory=list)

    def client(self, key: str | None = None, **kwargs: Any) -> httpx.Client:
        headers = {"Authorization": f"Bearer {key or self.key}"} if key != "" else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=10, **kwargs)

    def aws(self, service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=self.emulator,
            region_name="us-east-1",
            aws_access_key_id="local",
            aws_secret_access_key="local",
        )

    def new_key(self, tenant: str) -> str:
        """Create a key with the real CLI, as the README shows."""
        cli = Path(sys.executable).with_name("asyncinfer")
        env = {
            **os.environ,
            "AWS_ENDPOINT_URL": self.emulator,
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "local",
            "AWS_SECRET_ACCESS_KEY": "local",
        }
        done = subprocess.run(
            [str(cli), "keys", "create", "--tenant", tenant, "--table", TABLE],
            env=env,
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
        return done.stdout.strip()

    def queue_depth(self) -> int:
        sqs = self.aws("sqs")
        url = sqs.get_queue_url(QueueName="asyncinfer-dev-tasks")["QueueUrl"]
        attrs = sqs.get_queue_attributes(
            QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
        )["Attributes"]
        return int(attrs["ApproximateNumberOfMessages"]) + int(attrs["ApproximateNumberOfMessagesNotVisible"])


def start_stack(**env_overrides: str) -> Stack:
    key = "ai_e2e_" + secrets.token_hex(16)
    env = {
        **os.environ,
        "ASYNCINFER_PORT": str(free_port()),
        "ASYNCINFER_DEV_KEY": key,
        "ASYNCINFER_DEMO_CHAT_SECONDS": "1.5",
        "ASYNCINFER_DEMO_MEDIA_SECONDS": "0.3",
        "ASYNCINFER_FLUSH_SECONDS": "0.1",
        "PYTHONUNBUFFERED": "1",
        **env_overrides,
    }
    env.pop("AWS_ENDPOINT_URL", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "infra.local"],
        cwd=ROOT,
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    lines: queue.Queue[str] = queue.Queue()
    output: list[str] = []

    def pump() -> None:
        for line in process.stdout:  # type: ignore[union-attr]
            output.append(line)
            lines.put(line)

    threading.Thread(target=pump, daemon=True).start()
    url = emulator = None
    deadline = time.monotonic() + 60
    while url is None:
        try:
            line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
        except queue.Empty:
            process.kill()
            raise AssertionError("local stack did not become ready:\n" + "".join(output)) from None
        if found := EMULATOR.search(line):
            emulator = found.group(1)
        if found := READY.search(line):
            url = found.group(1)
    assert emulator, "the stack did not print its emulator endpoint"
    return Stack(process=process, url=url, key=key, emulator=emulator, output=output)


def stop_stack(stack: Stack) -> int:
    stack.process.send_signal(signal.SIGINT)
    return stack.process.wait(timeout=30)


@pytest.fixture(scope="session")
def stack():
    running = start_stack()
    yield running
    if running.process.poll() is None:
        stop_stack(running)
