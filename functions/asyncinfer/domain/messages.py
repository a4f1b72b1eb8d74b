"""Chat messages as the Chat Completions API takes them, checked at submit so that a misspelled key (`"contnet"`) is a
400 naming it rather than a task run on an empty prompt.

Each role has its fields (OpenAI's, plus what Perplexity's and OpenAI's answers carry in an assistant message, so a
client may send an answer back as history) and its content rules: a string or a non-empty array of parts of known types
(OpenAI's and Perplexity's, and the content blocks of PrivateGPT's Anthropic-style messages). An assistant message may
leave `content` null when it carries tool calls, and a tool message names the call it answers. The worker reads stored
messages leniently (asyncinfer.domain.requests.Message): these rules are for what clients send."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from asyncinfer.domain.errors import InvalidRequest, UnknownField
from asyncinfer.domain.fields import SUGGEST, near_miss, unknown_field

ROLES = ("system", "developer", "user", "assistant", "tool")
_COMMON = frozenset({"role", "content", "name"})
FIELDS: Mapping[str, frozenset[str]] = {
    "system": _COMMON,
    "developer": _COMMON,
    "user": _COMMON,
    "assistant": _COMMON
    | {
        "tool_calls",
        "function_call",
        "refusal",
        "audio",
        "annotations",  # OpenAI's answers
        "reasoning_steps",  # Perplexity's answers
        "reasoning_content",  # OpenAI-compatible servers' answers (vLLM, DeepSeek)
    },
    "tool": frozenset({"role", "content", "tool_call_id"}),
}
ANY_ROLE = frozenset().union(*FIELDS.values())

_USER_PARTS = (
    "text",
    "image_url",
    "input_audio",
    "file",  # OpenAI
    "file_url",
    "pdf_url",
    "video_url",  # Perplexity
    "image",
    "document",
    "tool_result",
    "search_result",  # PrivateGPT's Anthropic-style blocks
)
PART_TYPES: Mapping[str, tuple[str, ...]] = {
    "system": ("text",),
    "developer": ("text",),
    "user": _USER_PARTS,
    "assistant": ("text", "refusal", "tool_use", "thinking", "redacted_thinking"),
    "tool": ("text",),
}
# What each part type must carry besides its `type`.
PART_NEEDS: Mapping[str, tuple[str, ...]] = {
    "text": ("text",),
    "image_url": ("image_url",),
    "input_audio": ("input_audio",),
    "file": ("file",),
    "file_url": ("file_url",),
    "pdf_url": ("pdf_url",),
    "video_url": ("video_url",),
    "refusal": ("refusal",),
    "image": ("source",),
    "document": ("source",),
    "tool_result": ("tool_use_id",),
    "tool_use": ("id", "name", "input"),
    "thinking": ("thinking",),
    "redacted_thinking": ("data",),
}
# An assistant message with any of these may leave its content out (or null).
_CONTENT_OPTIONAL_WITH = ("tool_calls", "function_call", "audio", "refusal")


def _a(role: str) -> str:
    return f"an {role}" if role == "assistant" else f"a {role}"  # the other roles start with a consonant sound


def check_messages(messages: Any) -> None:
    """InvalidRequest (UnknownField for a key no role has) on the first message that breaks a rule, e.g.
    `messages[0]: unknown field 'contnet' (did you mean 'content'?)`. Not a list: left to the model's check."""
    if not isinstance(messages, list):
        return
    for index, message in enumerate(messages):
        _check_message(f"messages[{index}]", message)


def _check_message(where: str, message: Any) -> None:
    if not isinstance(message, dict):
        raise InvalidRequest(f'{where}: a message is an object such as {{"role": "user", "content": "Hello"}}')
    role = message.get("role")
    if role not in ROLES:
        said = "is missing" if role is None else f"is {role!r}"
        raise InvalidRequest(f"{where}: role {said}; it is one of {', '.join(ROLES)}")
    allowed = FIELDS[role]
    for name in message:
        if name in allowed:
            continue
        if name in ANY_ROLE:
            owners = " and ".join(sorted({r for r, fields in FIELDS.items() if name in fields}))
            raise UnknownField(f"{where}: {name!r} is a field of {owners} messages, not of {role} messages")
        raise unknown_field(name, where, near_miss(name, allowed, SUGGEST))
    _check_content(where, role, message)
    if role == "tool" and not (isinstance(message.get("tool_call_id"), str) and message["tool_call_id"]):
        raise InvalidRequest(f"{where}: a tool message needs tool_call_id, the id of the tool call it answers")
    for name in ("name", "refusal", "reasoning_content"):
        if message.get(name) is not None and not isinstance(message[name], str):
            raise InvalidRequest(f"{where}.{name}: must be a string")
    calls = message.get("tool_calls")
    if calls is not None and not (isinstance(calls, list) and all(isinstance(c, dict) for c in calls)):
        raise InvalidRequest(f"{where}.tool_calls: must be an array of tool call objects")


def _check_content(where: str, role: str, message: dict[str, Any]) -> None:
    content = message.get("content")
    if content is None:
        if role == "assistant" and any(message.get(name) for name in _CONTENT_OPTIONAL_WITH):
            return
        needs = "content (or tool_calls)" if role == "assistant" else "content"
        raise InvalidRequest(f"{where}: {_a(role)} message needs {needs}")
    if isinstance(content, str):
        return
    if not isinstance(content, list) or not content:
        raise InvalidRequest(f"{where}.content: a string, or a non-empty array of content parts")
    types = PART_TYPES[role]
    for index, part in enumerate(content):
        at = f"{where}.content[{index}]"
        kind = part.get("type") if isinstance(part, dict) else None
        if not isinstance(kind, str):
            raise InvalidRequest(
                f'{at}: a content part is an object with a type, such as {{"type": "text", "text": "…"}}'
            )
        if kind not in types:
            raise InvalidRequest(f"{at}: {_a(role)} message takes parts of type {', '.join(types)}, not {kind!r}")
        missing = [name for name in PART_NEEDS.get(kind, ()) if part.get(name) is None]
        if missing:
            raise InvalidRequest(f"{at}: a {kind!r} part needs {missing[0]!r}")
        if kind == "text" and not isinstance(part["text"], str):
            raise InvalidRequest(f"{at}.text: must be a string")
