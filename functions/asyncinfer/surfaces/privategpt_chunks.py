"""PrivateGPT's message stream: the task's event log as OpenAI chat-completion chunks. Apart from
asyncinfer.surfaces.privategpt so that the streaming function, which serves that stream, does not build that
surface (asyncinfer.handlers.stream), nor that surface's function this one."""

from __future__ import annotations

import json
from typing import Any

from asyncinfer.domain.model import Task, TaskStatus
from asyncinfer.tasks.streaming import sse


class ChunkFrames:
    """The task's event log as OpenAI `chat.completion.chunk`s, each with the event's id."""

    def __init__(self, task: Task, resumed_after: int = 0) -> None:
        self._id = f"chatcmpl-{task.id}"
        self._created = task.created_at // 1000
        self._model = task.model
        # The closing chunk is numbered one past the last event, so that a client may resume after it too; one
        # that does (its Last-Event-ID past every event) gets only [DONE], not the closing chunk again.
        self._resumed_after = resumed_after
        self._last = 0

    def _chunk(self, delta: dict[str, Any], finish_reason: str | None, **extra: Any) -> str:
        return json.dumps(
            {
                "id": self._id,
                "object": "chat.completion.chunk",
                "created": self._created,
                "model": self._model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
                **extra,
            },
            separators=(",", ":"),
            ensure_ascii=False,
        )

    def event(self, seq: int, event: dict[str, Any]) -> bytes | None:
        self._last = max(self._last, seq)
        if event.get("type") == "delta":
            return sse(self._chunk({"role": "assistant", "content": event["text"]}, None), id=seq)
        if event.get("type") == "restart":
            # A retried attempt starts the answer over: a client drops what it has so far.
            return sse(json.dumps({"attempt": event.get("attempt")}), event="restart", id=seq)
        return None

    def end(self, task: Task) -> bytes:
        last = max(self._last, task.event_seq)
        if self._resumed_after > last:
            return sse("[DONE]")  # the client has the closing frame (numbered last + 1) already
        closing = last + 1
        if task.status == TaskStatus.FAILED:
            error = task.error.model_dump() if task.error else {"code": "failed", "message": "The message failed"}
            return sse(json.dumps({"error": error}), event="error", id=closing) + sse("[DONE]")
        reason = "stop" if task.status == TaskStatus.COMPLETED else "cancelled"
        extra = {"usage": task.usage.model_dump(exclude_none=True)} if task.usage else {}
        return sse(self._chunk({}, reason, **extra), id=closing) + sse("[DONE]")
