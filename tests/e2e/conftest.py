"""The local stack started for real (`python -m infra.local`) and driven over HTTP."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest

from infra.local.launch import launch

TABLE = "asyncinfer-dev-tasks"


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
    stack_file: Path | None = None

    def client(self, key: str | None = None, **kwargs: Any) -> httpx.Client:
        headers = {"Authorization": f"Bearer {key or self.key}"} if key != "" else {}
        return httpx.Client(base_url=self.url, headers=headers, **{"timeout": 10, **kwargs})

    def aws(self, service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=self.emulator,
            region_name="us-east-1",
            aws_access_key_id="local",
            aws_secret_access_key="local",
        )

    def new_key(self, tenant: str) -> str:
        """Create a key with the real CLI, as docs/guide/try-it.md shows."""
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
    launched = launch(
        "ai_e2e_",
        **{
            "ASYNCINFER_DEMO_CHAT_SECONDS": "1.5",
            "ASYNCINFER_DEMO_MEDIA_SECONDS": "0.3",
            "ASYNCINFER_FLUSH_SECONDS": "0.1",
            **env_overrides,
        },
    )
    return Stack(
        process=launched.process,
        url=launched.url,
        key=launched.key,
        emulator=launched.emulator,
        output=launched.output,
        stack_file=launched.stack_file,
    )


def stop_stack(stack: Stack) -> int:
    stack.process.send_signal(signal.SIGINT)
    return stack.process.wait(timeout=30)


@pytest.fixture(scope="session")
def stack():
    running = start_stack()
    yield running
    if running.process.poll() is None:
        stop_stack(running)
