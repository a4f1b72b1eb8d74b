"""EventBridge's scheduled rules for the local stack: a thread invoking a function every so often."""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path

from infra.local.functions import LocalFunctions

log = logging.getLogger(__name__)
EVENTS = Path(__file__).resolve().parents[2] / "events"


class Every:
    def __init__(self, seconds: float, functions: LocalFunctions, function: str, event_file: str) -> None:
        self._seconds = seconds
        self._functions = functions
        self._function = function
        self._event = json.loads((EVENTS / event_file).read_text())
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"schedule-{function}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _loop(self) -> None:
        while not self._stop.wait(self._seconds):
            try:
                self._functions.invoke(self._function, self._event)
            except Exception:
                log.exception("scheduled %s failed; it runs again on schedule", self._function)
