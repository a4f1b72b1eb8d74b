"""The items of OpenAI's Responses API as a chat task shows them: its output's assistant messages and MCP calls (ids
that follow from their place in the output, as the stream numbers them) and its input's messages."""

from __future__ import annotations

from typing import Any


def message_item(task_id: str, index: int, text: str, status: str = "completed") -> dict[str, Any]:
    """An assistant message output item; its id follows from its place in the output, as the stream numbers it."""
    part = {"type": "output_text", "text": text, "annotations": [], "logprobs": []}
    content = [part] if status != "in_progress" else []
    return {
        "id": f"msg_{task_id}_{index}",
        "type": "message",
        "role": "assistant",
        "status": status,
        "content": content,
    }


def mcp_call_item(task_id: str, index: int, server: str, tool: str, arguments: str, **ended: Any) -> dict[str, Any]:
    """An `mcp_call` item; `ended` gives its output (`output`, `is_error`) once the call returned."""
    item: dict[str, Any] = {
        "id": f"mcp_{task_id}_{index}",
        "type": "mcp_call",
        "server_label": server,
        "name": tool,
        "arguments": arguments,
        "output": None,
        "error": None,
        "status": "in_progress",
    }
    if "output" in ended:
        failed = bool(ended.get("is_error"))
        item["output"] = ended["output"]
        item["error"] = {"type": "mcp_tool_execution_error", "content": ended["output"]} if failed else None
        item["status"] = "failed" if failed else "completed"
    return item


def input_item(task_id: str, index: int, message: dict[str, Any]) -> dict[str, Any]:
    role = message.get("role")
    text_type = "output_text" if role == "assistant" else "input_text"
    content = message.get("content")
    parts = [{"type": "text", "text": content}] if isinstance(content, str) else content or []
    rendered = []
    for part in parts:
        if part.get("type") == "image_url":
            image = part.get("image_url") or {}
            rendered.append(
                {"type": "input_image", "image_url": image.get("url"), "detail": image.get("detail", "auto")}
            )
        else:
            rendered.append({"type": text_type, "text": part.get("text", "")})
    return {
        "id": f"msg_{task_id}_in{index}",
        "type": "message",
        "role": role,
        "status": "completed",
        "content": rendered,
    }
