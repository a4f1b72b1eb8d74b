"""Start `python -m infra.local` as a child process and wait until it serves (e2e tests, benchmarks)."""

from __future__ import annotations

import os
import queue
import re
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
READY = re.compile(r"asyncinfer ready on (http://\S+)")
EMULATOR = re.compile(r"emulator\s+(http://\S+)")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Launched:
    process: subprocess.Popen
    url: str
    key: str
    emulator: str
    output: list[str] = field(default_factory=list)
    stack_file: Path | None = None

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        return self.process.wait(timeout=30)


def launch(key_prefix: str = "ai_local_", **env_overrides: str) -> Launched:
    key = key_prefix + secrets.token_hex(16)
    port = free_port()
    env = {
        **os.environ,
        "ASYNCINFER_PORT": str(port),
        "ASYNCINFER_DEV_KEY": key,
        "PYTHONUNBUFFERED": "1",
        # Not the repository's .asyncinfer/local.json: that one is the `make dev` someone may be running.
        "ASYNCINFER_STACK_FILE": str(Path(tempfile.gettempdir()) / f"asyncinfer-local-{port}.json"),
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
            raise RuntimeError("local stack did not become ready:\n" + "".join(output)) from None
        if found := EMULATOR.search(line):
            emulator = found.group(1)
        if found := READY.search(line):
            url = found.group(1)
    if not emulator:
        process.kill()
        raise RuntimeError("the stack did not print its emulator endpoint")
    stack_file = ROOT / env["ASYNCINFER_STACK_FILE"]
    return Launched(process=process, url=url, key=key, emulator=emulator, output=output, stack_file=stack_file)
