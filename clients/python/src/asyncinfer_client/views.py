"""What a read answers, typed: one status vocabulary whichever surface made the task.

A view is still the provider's answer, a dict (`view["choices"]`, `json.dumps(view)`, `view == {...}` all
work as before), with typed properties beside it: `status` says the same words for a chat task (whose
surface spells `IN_PROGRESS`) and a generation (whose surface spells `processing`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

Status = Literal["created", "in_progress", "completed", "failed", "cancelled"]
ENDED: frozenset[str] = frozenset({"completed", "failed", "cancelled"})

# Each surface's spelling → the one vocabulary, the Async API's in lower case: NetMind's pending is created.
_STATUS: dict[str, Status] = {
    "created": "created",
    "pending": "created",
    "queued": "created",
    "in_progress": "in_progress",
    "processing": "in_progress",
    "running": "in_progress",
    "completed": "completed",
    "failed": "failed",
    "cancelled": "cancelled",
    "canceled": "cancelled",
}


def status_of(answer: dict[str, Any]) -> Status:
    """The answer's status in the one vocabulary; an unknown spelling reads as still running."""
    return _STATUS.get(str(answer.get("status", "")).lower(), "in_progress")


@dataclass(frozen=True)
class TaskError:
    code: str
    message: str


@dataclass(frozen=True)
class OutputFile:
    """A generated file: its name, the presigned URL it is fetched from (valid for a while after the read
    that minted it), and its type (image, audio, video)."""

    name: str
    url: str
    type: str | None = None


class TaskView(dict[str, Any]):
    """A task as the latest read (or submit, cancel, stream end) answered it."""

    @property
    def raw(self) -> dict[str, Any]:
        """The provider's answer as it came, a plain dict."""
        return dict(self)

    @property
    def id(self) -> str:
        return str(self.get("id", ""))

    @property
    def status(self) -> Status:
        return status_of(self)

    @property
    def done(self) -> bool:
        return self.status in ENDED

    @property
    def model(self) -> str | None:
        return self.get("model")

    @property
    def text(self) -> str | None:
        """A completed chat task's answer; None for anything else."""
        choices = self.get("choices") or []
        if not choices:
            return None
        return (choices[0].get("message") or {}).get("content")

    @property
    def usage(self) -> dict[str, Any] | None:
        """Tokens (or images, seconds) and their cost: what it was charged, once it has ended."""
        return self.get("usage")

    @property
    def error(self) -> TaskError | None:
        error = self.get("error")
        if not isinstance(error, dict):
            return None
        return TaskError(str(error.get("code", "")), str(error.get("message", "")))

    @property
    def progress(self) -> dict[str, Any] | None:
        return self.get("progress")

    @property
    def files(self) -> list[OutputFile]:
        """A completed generation's files; none for a chat task."""
        data = (self.get("result") or {}).get("data") or [] if isinstance(self.get("result"), dict) else []
        return [
            OutputFile(f.get("file_name") or f"{self.id}-{i}", f["url"], f.get("file_type"))
            for i, f in enumerate(data)
            if f.get("url")
        ]

    @property
    def created_at(self) -> datetime | None:
        """When it was accepted, whichever way its surface writes times."""
        return _time(self.get("created_at"))

    def __repr__(self) -> str:
        return f"TaskView(id={self.id!r}, status={self.status!r}, model={self.model!r})"


def _time(value: Any) -> datetime | None:
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, tz=UTC)
    if not isinstance(value, str) or not value:
        return None
    try:  # the Async API's ISO 8601 (…Z), NetMind's `YYYY-MM-DD HH:MM:SS` (UTC)
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def view(answer: Any) -> Any:
    """A task's answer as a TaskView; anything else (a page, None) as it is."""
    return TaskView(answer) if isinstance(answer, dict) and not isinstance(answer, TaskView) else answer
