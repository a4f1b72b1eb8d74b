"""Anthropic's Messages API as the engine takes it: a batch item's `params` mapped onto the chat body every chat
task runs, and a line of a batch's results file spelled as a line of Anthropic's results JSONL (a Message, an
error, or canceled). Pure: no I/O, no surface."""

from __future__ import annotations

from typing import Any

from asyncinfer.domain.deadlines import BATCH_EXPIRED
from asyncinfer.domain.errors import InvalidRequest
from asyncinfer.domain.model import TaskStatus

# The params mapped truly; any other one is refused by name (never silently dropped).
SAMPLING = ("temperature", "top_p", "top_k")
MAPPED = frozenset({"model", "max_tokens", "messages", "system", "stop_sequences", "metadata", "stream", *SAMPLING})
TEXT_BLOCK = frozenset({"type", "text"})

# Our error codes as Anthropic's error types (its ErrorObject's `type`); anything else is an api_error.
_ERROR_TYPES = {
    "invalid_request_error": (
        "invalid_request", "invalid_json", "invalid_batch", "unknown_model", "unknown_field", "url_refused",
        "local_only_model", "long_tasks_unavailable", "class_not_allowed", "provider_rejected", "unsupported_kind",
        "unsupported_parameter", "request_too_large",
    ),
    "billing_error": ("budget_exceeded",),
    "rate_limit_error": ("rate_limited", "provider_throttled"),
    "timeout_error": ("timeout", "deadline_exceeded", "start_timeout", "execution_timeout", "provider_timeout"),
    "not_found_error": ("request_missing",),
}  # fmt: skip
ERROR_TYPE = {code: kind for kind, codes in _ERROR_TYPES.items() for code in codes}


class UnsupportedParam(InvalidRequest):
    """A field of Anthropic's params this service cannot honour (tools, images, thinking, ...): the whole batch is
    refused naming it, as a field we cannot honour always is."""

    code = "unsupported_parameter"


def _text(block: Any, where: str) -> str:
    if not isinstance(block, dict):
        raise InvalidRequest(f"{where}: a content block must be an object")
    kind = block.get("type")
    if kind != "text":
        raise UnsupportedParam(f"{where}: content blocks of type {kind!r} are not supported (only text)")
    if extra := sorted(set(block) - TEXT_BLOCK):
        raise UnsupportedParam(f"{where}.{extra[0]} is not supported")
    if not isinstance(block.get("text"), str):
        raise InvalidRequest(f"{where}.text must be a string")
    return block["text"]


def _content(content: Any, where: str) -> str | list[dict[str, str]]:
    """A string stays one; text blocks become the chat body's text parts (one block: its text)."""
    if isinstance(content, str):
        return content
    if not isinstance(content, list) or not content:
        raise InvalidRequest(f"{where} must be a string or a non-empty list of content blocks")
    texts = [_text(block, f"{where}.{i}") for i, block in enumerate(content)]
    return texts[0] if len(texts) == 1 else [{"type": "text", "text": t} for t in texts]


def to_chat(params: Any) -> dict[str, Any]:
    """Anthropic's message params as the chat body: `system` (a string or text blocks) first as a system message,
    the turns with their text, `stop_sequences` as `stop`, `metadata.user_id` as `user`, `max_tokens` (required,
    as Anthropic requires it) and the sampling parameters as they are. InvalidRequest (UnsupportedParam for what
    cannot be honoured) names the field."""
    if not isinstance(params, dict):
        raise InvalidRequest("params must be an object")
    if unknown := sorted(set(params) - MAPPED):
        raise UnsupportedParam(f"params.{unknown[0]} is not supported")
    if params.get("stream") not in (None, False):
        raise UnsupportedParam("params.stream is not supported in a batch")
    for name in ("model", "max_tokens", "messages"):
        if name not in params:
            raise InvalidRequest(f"params.{name}: Field required")
    max_tokens = params["max_tokens"]
    if not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 1:
        raise InvalidRequest("params.max_tokens must be an integer of at least 1")
    messages: list[dict[str, Any]] = []
    if (system := params.get("system")) is not None:
        messages.append({"role": "system", "content": _content(system, "params.system")})
    turns = params["messages"]
    if not isinstance(turns, list) or not turns:
        raise InvalidRequest("params.messages must be a non-empty list")
    for i, turn in enumerate(turns):
        where = f"params.messages.{i}"
        if not isinstance(turn, dict) or turn.get("role") not in ("user", "assistant"):
            raise InvalidRequest(f"{where}.role must be 'user' or 'assistant'")
        if extra := sorted(set(turn) - {"role", "content"}):
            raise UnsupportedParam(f"{where}.{extra[0]} is not supported")
        messages.append({"role": turn["role"], "content": _content(turn.get("content"), f"{where}.content")})
    body: dict[str, Any] = {"model": params["model"], "messages": messages, "max_tokens": max_tokens}
    if (stops := params.get("stop_sequences")) is not None:
        if not isinstance(stops, list) or not all(isinstance(s, str) for s in stops):
            raise InvalidRequest("params.stop_sequences must be a list of strings")
        body["stop"] = stops
    for name in SAMPLING:
        if params.get(name) is not None:
            body[name] = params[name]
    metadata = params.get("metadata")
    if metadata is not None:
        if not isinstance(metadata, dict) or set(metadata) - {"user_id"}:
            raise UnsupportedParam("params.metadata takes only user_id")
        if metadata.get("user_id") is not None:
            body["user"] = metadata["user_id"]
    return body


def message_id(task_id: str | None) -> str:
    """An item's Message id: its task's id as `msg_<32 hex>`, a spelling every chat surface reads."""
    return "msg_" + (task_id or "").removeprefix("task_").replace("-", "")


def _stop_reason(finish: Any) -> str:
    # A chat completion does not say which stop sequence ended it, so a stop reads as end_turn.
    return "max_tokens" if finish == "length" else "end_turn"


def message(task_id: str | None, response: dict[str, Any]) -> dict[str, Any]:
    """A stored chat completion as Anthropic's Message."""
    choice = (response.get("choices") or [{}])[0]
    text = (choice.get("message") or {}).get("content") or ""
    usage = response.get("usage") or {}
    return {
        "id": message_id(task_id),
        "type": "message",
        "role": "assistant",
        "model": response.get("model") or "unknown",
        "content": [{"type": "text", "text": text if isinstance(text, str) else str(text)}],
        "stop_reason": _stop_reason(choice.get("finish_reason")),
        "stop_sequence": None,
        "usage": {
            "input_tokens": int(usage.get("prompt_tokens") or 0),
            "output_tokens": int(usage.get("completion_tokens") or 0),
        },
    }


def error(code: str | None, text: str | None) -> dict[str, Any]:
    """Our error as Anthropic's error response."""
    return {"type": "error", "error": {"type": ERROR_TYPE.get(code or "", "api_error"), "message": text or "error"}}


def result_line(line: dict[str, Any]) -> dict[str, Any]:
    """A line of the batch's results file (asyncinfer.tasks.batch_tracker) as a line of Anthropic's results."""
    status = line.get("status")
    if status == TaskStatus.COMPLETED.value and isinstance(line.get("response"), dict):
        result: dict[str, Any] = {"type": "succeeded", "message": message(line.get("id"), line["response"])}
    elif status == TaskStatus.CANCELLED.value:
        result = {"type": "canceled"}
    elif (line.get("error") or {}).get("code") == BATCH_EXPIRED:
        result = {"type": "expired"}
    else:
        problem = line.get("error") or {"code": "missing", "message": "The item has no task"}
        result = {"type": "errored", "error": error(problem.get("code"), problem.get("message"))}
    return {"custom_id": line["custom_id"], "result": result}
