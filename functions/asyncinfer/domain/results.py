"""The shapes of stored results."""

from __future__ import annotations

from typing import Any

from asyncinfer.domain.model import Task, Usage


def chat_completion(
    task: Task,
    content: str,
    finish_reason: str,
    usage: Usage,
    created_ms: int,
    tool_calls: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The OpenAI chat.completion object stored as a chat task's result."""
    message: dict[str, Any] = {"role": "assistant", "content": content if content or not tool_calls else None}
    if tool_calls:
        message["tool_calls"] = tool_calls
    return {
        "id": f"chatcmpl-{task.id}",
        "object": "chat.completion",
        "created": created_ms // 1000,
        "model": task.model,
        "choices": [{"index": 0, "message": message, "finish_reason": finish_reason}],
        "usage": usage.model_dump(exclude_none=True),
    }
