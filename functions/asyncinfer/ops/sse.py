"""Reading a Server-Sent Events response as a client does (the smoke test, e2e tests, benchmarks)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any


def sse_events(response: Any) -> Iterator[dict]:
    """Parse an SSE body as it arrives (an httpx or httpx2 streaming response); yields one dict per event
    (comments and retry lines skipped)."""
    fields: dict = {}
    for line in response.iter_lines():
        if line == "":
            if "data" in fields:
                yield fields
            fields = {}
        elif not line.startswith(":"):
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            fields[name] = fields[name] + "\n" + value if name == "data" and name in fields else value
