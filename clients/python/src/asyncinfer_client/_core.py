"""What the sync and async clients share, without I/O: the routes of a task, the retry policy, the poll
hint, how an answer becomes a value or a typed error."""

from __future__ import annotations

import os
import random
import uuid
from dataclasses import dataclass
from typing import Any, Literal

import httpx

from asyncinfer_client.errors import APIError, RateLimited, ServiceUnavailable, error_of
from asyncinfer_client.views import ENDED, OutputFile, TaskView, status_of

POLL_HEADER = "openai-poll-after-ms"
OnTimeout = Literal["raise", "cancel", "detach"]
Kind = Literal["chat", "generation"]


@dataclass(frozen=True)
class Routes:
    """Where a task is read, streamed, cancelled and deleted, by the surface that made it."""

    kind: Kind
    task_id: str

    @property
    def read(self) -> str:
        return f"/v1/async/{self.task_id}" if self.kind == "chat" else f"/v1/generation/{self.task_id}"

    @property
    def events(self) -> str | None:
        return f"/v1/async/{self.task_id}/events" if self.kind == "chat" else None

    @property
    def cancel(self) -> tuple[str, str]:
        # NetMind's surface has no cancel: its DELETE cancels a generation still running.
        return ("POST", f"{self.read}/cancel") if self.kind == "chat" else ("DELETE", self.read)


def endpoint(base_url: str | None, api_key: str | None) -> tuple[str, str]:
    """The base URL and key given, else ASYNCINFER_BASE_URL and ASYNCINFER_API_KEY (as the CLI reads them)."""
    base_url = base_url or os.environ.get("ASYNCINFER_BASE_URL")
    api_key = api_key or os.environ.get("ASYNCINFER_API_KEY")
    if not base_url or not api_key:
        raise ValueError("give base_url and api_key, or set ASYNCINFER_BASE_URL and ASYNCINFER_API_KEY")
    return base_url.rstrip("/"), api_key


def list_params(limit: int, cursor: str | None, status: str | None) -> dict[str, str]:
    return {"limit": str(limit), **({"cursor": cursor} if cursor else {}), **({"status": status} if status else {})}


def bounded(timeout: httpx.Timeout, left: float) -> httpx.Timeout:
    """A stream's timeouts cut to what is left of the caller's: a read waiting on a quiet stream ends at
    the caller's deadline, not at the client's per-request timeout or never."""
    cap = max(0.01, left)

    def cut(value: float | None) -> float:
        return cap if value is None else min(value, cap)

    return httpx.Timeout(
        connect=cut(timeout.connect), read=cut(timeout.read), write=cut(timeout.write), pool=cut(timeout.pool)
    )


def ended(task: dict[str, Any]) -> bool:
    return status_of(task) in ENDED


def chat_body(model: str, messages: list[dict[str, Any]] | None, prompt: str | None, fields: dict) -> dict:
    if (messages is None) == (prompt is None):
        raise ValueError("give either messages or prompt")
    return {"model": model, "messages": messages or [{"role": "user", "content": prompt}], **fields}


def new_idempotency_key() -> str:
    """One per logical submit, reused by its retries: a submit whose answer was lost makes no second task."""
    return f"aic-{uuid.uuid4().hex}"


@dataclass
class Retry:
    """Bounded retries of what may be sent again: connection errors, 5xx and 429 (after its Retry-After)."""

    attempts: int = 4
    base: float = 0.5
    cap: float = 8.0

    def delay(self, attempt: int, error: Exception) -> float | None:
        """Seconds before attempt `attempt + 1`, or None when the error is final."""
        if attempt >= self.attempts:
            return None
        if isinstance(error, RateLimited):
            return min(self.cap * 4, error.retry_after)
        if isinstance(error, APIError) and not isinstance(error, ServiceUnavailable):
            return None
        return random.uniform(0, min(self.cap, self.base * 2**attempt))


def answer(status: int, headers: dict[str, str], body: bytes) -> Any:
    """The parsed body of a 2xx answer; a typed error otherwise."""
    import json

    try:
        parsed = json.loads(body) if body else None
    except ValueError:
        parsed = body.decode(errors="replace")
    if status >= 400:
        raise error_of(status, parsed, {k.lower(): v for k, v in headers.items()})
    return parsed


def poll_delay(headers: dict[str, str], default: float) -> float:
    """The server's poll hint (OpenAI's `openai-poll-after-ms`), else `default` seconds."""
    for name, value in headers.items():
        if name.lower() == POLL_HEADER:
            try:
                return max(0.05, int(value) / 1000)
            except ValueError:
                break
    return default


def kind_of(task_id: str) -> Kind:
    """The Async API's ids read `task_…`; the generation surface's are 32 hex characters."""
    return "chat" if task_id.startswith("task_") else "generation"


def output_files(task: dict[str, Any]) -> list[OutputFile]:
    """A completed generation's files."""
    return TaskView(task).files
