"""A part of the local stack in a process of its own (`python -m MODULE ARGS`). It prints one line when it
is ready (what the stack needs to reach it), then runs until its standard input closes: when the stack
stops it, and also when the stack's process is gone, however it ended."""

from __future__ import annotations

import gc
import signal
import subprocess
import sys
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


class Child:
    def __init__(self, module: str, *args: str, env: Mapping[str, str] | None = None) -> None:
        self._command = [sys.executable, "-m", module, *args]
        self._env = dict(env) if env is not None else None
        self._process: subprocess.Popen[str] | None = None

    def start(self) -> str:
        """Start it and wait for its ready line, which is returned."""
        self._process = subprocess.Popen(
            self._command, cwd=ROOT, env=self._env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        line = self._process.stdout.readline().strip()  # type: ignore[union-attr]
        if not line:
            self._process.kill()
            raise RuntimeError(f"{' '.join(self._command[1:])} did not start (exit {self._process.wait()})")
        echo = threading.Thread(target=_echo, args=(self._process.stdout,), name=f"{self._command[2]} stdout")
        echo.daemon = True
        echo.start()
        return line

    def stop(self, timeout: float = 30) -> None:
        process = self._process
        if process is None or process.poll() is not None:
            return
        process.stdin.close()  # type: ignore[union-attr]
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _echo(lines: Iterable[str]) -> None:
    """What a child prints after its ready line is the stack's console's: a pipe nobody read would keep it
    from the console, then, once full (64 KiB), stop the child at its next print."""
    for line in lines:
        sys.stdout.write(line)
        sys.stdout.flush()


def ready(line: str) -> None:
    """In the child: say it is ready, then run until the stack closes standard input. Ctrl-C reaches the
    whole process group; the stack stops its children itself, in order."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    gc.freeze()
    print(line, flush=True)
    sys.stdin.read()
