"""Request bodies, validated strictly at the boundary: wrong types are rejected, never coerced."""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from asyncinfer.tasks.errors import InvalidJson, InvalidRequest, RequestTooLarge

MAX_MESSAGES = 1000


class Message(BaseModel):
    model_config = ConfigDict(strict=True, extra="allow")

    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[dict[str, Any]] | None = None

    def text(self) -> str:
        if isinstance(self.content, str):
            return self.content
        parts = self.content or []
        return " ".join(p["text"] for p in parts if p.get("type") == "text" and isinstance(p.get("text"), str))


class ChatRequest(BaseModel):
    """An OpenAI-style chat completion body. Fields we do not know are kept and passed along."""

    model_config = ConfigDict(strict=True, extra="allow")

    model: str = Field(min_length=1, max_length=256)
    messages: list[Message] = Field(min_length=1, max_length=MAX_MESSAGES)
    max_tokens: int | None = Field(default=None, ge=1)
    mcp_servers: list[dict[str, Any]] | None = None

    def last_user_text(self) -> str:
        for message in reversed(self.messages):
            if message.role == "user":
                return message.text()
        return ""


def parse_json_body(body: str | bytes | None, max_bytes: int) -> dict[str, Any]:
    """The request body as a JSON object, or a typed error saying why not."""
    raw = body.encode() if isinstance(body, str) else (body or b"")
    if len(raw) > max_bytes:
        raise RequestTooLarge(f"Request body is {len(raw)} bytes; the limit is {max_bytes}")
    if not raw.strip():
        raise InvalidJson("Request body is empty; send a JSON object")
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidJson(f"Request body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise InvalidJson("Request body must be a JSON object")
    return data


def validation_message(exc: ValidationError) -> str:
    """One readable line per problem, e.g. `messages.0.role: Input should be 'system', ...`."""
    problems = []
    for err in exc.errors(include_url=False)[:10]:
        where = ".".join(str(p) for p in err["loc"]) or "body"
        problems.append(f"{where}: {err['msg']}")
    return "; ".join(problems)


def parse_chat_request(data: dict[str, Any]) -> ChatRequest:
    try:
        return ChatRequest.model_validate(data)
    except ValidationError as exc:
        raise InvalidRequest(validation_message(exc)) from None
