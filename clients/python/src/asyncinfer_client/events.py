"""Server-Sent Events as the task streams send them: `id` (the event's sequence number), `event` (its
type: delta, tool_call, tool_result, status, restart, … and `end`), `data` (JSON)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Event:
    seq: int | None  # None for the closing `end` event, which carries the task
    type: str
    data: Any

    @property
    def text(self) -> str:
        """A delta's text ("" for other events)."""
        return self.data.get("text", "") if self.type == "delta" and isinstance(self.data, dict) else ""


class Parser:
    """Incremental: feed it the body's lines as they arrive; it returns an Event when one is complete."""

    def __init__(self) -> None:
        self._fields: dict[str, str] = {}

    def feed(self, line: str) -> Event | None:
        if line == "":
            fields, self._fields = self._fields, {}
            if "data" not in fields:
                return None
            try:
                data = json.loads(fields["data"])
            except ValueError:
                data = fields["data"]
            seq = int(fields["id"]) if fields.get("id", "").isdigit() else None
            return Event(seq, fields.get("event", "message"), data)
        if line.startswith(":"):
            return None  # a keep-alive comment
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "data" and "data" in self._fields:
            self._fields["data"] += "\n" + value
        elif name in ("id", "event", "data"):
            self._fields[name] = value
        return None
