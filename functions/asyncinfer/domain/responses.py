"""OpenAI's Responses API (background mode) on the chat task: a Responses request mapped onto the chat body the
engine runs, and a chat task rendered as a Response object, its output items and its input items. Pure functions
of plain dicts and the Task, so that the surface, the batch input reader and the batch results writer share them.

The mapping: `input` (a string, or message items with input_text / output_text / input_image parts) becomes
`messages`; `instructions` a first system message named `instructions` (so that a read tells it from the input);
`max_output_tokens` `max_tokens`; `tools` of type `mcp` (require_approval `never`) `mcp_servers`. `temperature`,
`top_p`, `metadata`, `service_tier` and the engine's own fields (webhook, correlation_id, deadlines) pass as they
are. A field whose meaning cannot be honoured is a 400 naming it."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from asyncinfer.domain.errors import InvalidRequest
from asyncinfer.domain.model import Task, TaskStatus, Usage
from asyncinfer.domain.requests import validation_message
from asyncinfer.domain.response_items import input_item, mcp_call_item, message_item

PREFIX = "resp_"
INSTRUCTIONS = "instructions"  # the `name` of the system message that carries `instructions`
BACKGROUND_ONLY = "this API runs responses in the background; send background: true"
# The engine's own fields, taken on this surface as on every chat surface (extra_body in the SDK).
ENGINE_FIELDS = ("webhook", "correlation_id", "start_timeout", "execution_timeout", "complete_by")
# OpenAI's fields this surface cannot honour (a 400 names the one sent): state kept between responses, prompt
# templates, reasoning and output options no provider here exposes.
UNSUPPORTED = (
    "previous_response_id", "conversation", "prompt", "reasoning", "include", "max_tool_calls", "top_logprobs",
    "prompt_cache_key", "prompt_cache_retention", "safety_identifier", "user", "context_management", "stream_options",
)  # fmt: skip
# The finish reasons that end a response `incomplete`, and the reason it gives.
INCOMPLETE = {"length": "max_output_tokens", "content_filter": "content_filter"}
STATUS = {
    TaskStatus.CREATED: "queued",
    TaskStatus.IN_PROGRESS: "in_progress",
    TaskStatus.COMPLETED: "completed",
    TaskStatus.FAILED: "failed",
    TaskStatus.CANCELLED: "cancelled",
}
Metadata = dict[Annotated[str, Field(max_length=64)], Annotated[str, Field(max_length=512)]]


class McpTool(BaseModel):
    """A remote MCP server as OpenAI's `mcp` tool names it."""

    model_config = ConfigDict(defer_build=True, strict=True, extra="forbid")

    type: Literal["mcp"]
    server_label: str = Field(pattern=r"^[A-Za-z0-9_-]{1,32}$")
    server_url: str
    headers: dict[str, str] | None = None
    allowed_tools: list[str] | None = None
    require_approval: Literal["never"] = "never"
    server_description: str | None = None


class ResponsesRequest(BaseModel):
    """The body of POST /v1/responses this surface honours; any other field is a 400 naming it."""

    model_config = ConfigDict(defer_build=True, strict=True, extra="forbid")

    model: str | None = Field(default=None, min_length=1, max_length=256)
    input: str | list[dict[str, Any]]
    instructions: str | None = None
    max_output_tokens: int | None = Field(default=None, ge=1)
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, ge=0, le=1)
    metadata: Metadata | None = Field(default=None, max_length=16)
    tools: list[McpTool] | None = None
    tool_choice: Literal["auto"] | None = None
    parallel_tool_calls: bool | None = None
    store: Literal[True] | None = None
    background: bool | None = None
    stream: bool | None = None
    service_tier: str | None = None
    truncation: Literal["disabled"] | None = None
    text: dict[str, Any] | None = None
    webhook: dict[str, Any] | None = None
    correlation_id: str | None = None
    start_timeout: float | None = None
    execution_timeout: float | None = None
    complete_by: int | str | None = None


def _refuse_unsupported(request: dict[str, Any], background: bool) -> None:
    if not isinstance(request, dict):
        raise InvalidRequest("The body must be a JSON object")
    for name in UNSUPPORTED:
        if request.get(name) is not None:
            raise InvalidRequest(f"{name} is not supported by this API")
    if background and request.get("background") is not True:
        raise InvalidRequest(f"background: {BACKGROUND_ONLY}")
    for name in () if background else ("background", "stream"):
        if request.get(name):
            raise InvalidRequest(f"{name}: a batch's requests run in the batch, never in the background or streamed")
    tools = request.get("tools")
    for i, tool in enumerate(tools if isinstance(tools, list) else []):
        kind = tool.get("type") if isinstance(tool, dict) else None
        if kind != "mcp":
            raise InvalidRequest(f"tools[{i}].type: only mcp tools are supported, not {kind!r}")
        if tool.get("require_approval", "never") != "never":
            raise InvalidRequest(f'tools[{i}].require_approval: only "never" is supported (tools run unattended)')
        if tool.get("connector_id") is not None:
            raise InvalidRequest(f"tools[{i}].connector_id: connectors are not supported; give a server_url")
    text = request.get("text")
    if text is not None and text != {"format": {"type": "text"}}:
        raise InvalidRequest('text: only {"format": {"type": "text"}} is supported (plain text output)')


def _part(part: Any, where: str, role: str) -> dict[str, Any]:
    kind = part.get("type") if isinstance(part, dict) else None
    if kind in ("input_text", "output_text") and isinstance(part.get("text"), str):
        return {"type": "text", "text": part["text"]}
    if kind == "input_image" and role == "user" and isinstance(part.get("image_url"), str):
        image = {"url": part["image_url"], **({"detail": part["detail"]} if part.get("detail") else {})}
        return {"type": "image_url", "image_url": image}
    raise InvalidRequest(
        f"{where}.type: {kind!r} is not supported (input_text, output_text, input_image with image_url)"
    )


def messages_of(given: str | list[dict[str, Any]]) -> list[dict[str, Any]]:
    """`input` as chat messages."""
    if isinstance(given, str):
        return [{"role": "user", "content": given}]
    if not given:
        raise InvalidRequest("input: give a string or at least one message")
    out = []
    for i, item in enumerate(given):
        if item.get("type", "message") != "message":
            raise InvalidRequest(f"input[{i}].type: {item.get('type')!r} is not supported (message items only)")
        role, content = item.get("role"), item.get("content")
        if role not in ("user", "system", "developer", "assistant"):
            raise InvalidRequest(f"input[{i}].role: one of user, system, developer, assistant")
        if isinstance(content, list):
            content = [_part(part, f"input[{i}].content[{j}]", role) for j, part in enumerate(content)]
        elif not isinstance(content, str):
            raise InvalidRequest(f"input[{i}].content: a string or a list of content parts")
        out.append({"role": role, "content": content})
    return out


def chat_body_of(request: dict[str, Any], default_model: str, *, background: bool = True) -> dict[str, Any]:
    """The chat body a Responses request runs as (the engine validates it as any chat body). `background`: sent
    to POST /v1/responses, which takes background requests only; False for a batch's line, which takes none."""
    _refuse_unsupported(request, background)
    try:
        parsed = ResponsesRequest.model_validate(request)
    except ValidationError as exc:
        raise InvalidRequest(validation_message(exc)) from None
    messages = messages_of(parsed.input)
    if parsed.instructions is not None:
        messages.insert(0, {"role": "system", "content": parsed.instructions, "name": INSTRUCTIONS})
    body: dict[str, Any] = {"model": parsed.model or default_model, "messages": messages}
    if parsed.max_output_tokens is not None:
        body["max_tokens"] = parsed.max_output_tokens
    if parsed.tools:
        body["mcp_servers"] = [_server(tool) for tool in parsed.tools]
    for name in ("temperature", "top_p", "metadata", "service_tier", *ENGINE_FIELDS):
        value = getattr(parsed, name)
        if value is not None:
            body[name] = value
    return body


def _server(tool: McpTool) -> dict[str, Any]:
    server: dict[str, Any] = {"url": tool.server_url, "name": tool.server_label}
    if tool.headers:
        server["headers"] = tool.headers
    if tool.allowed_tools is not None:
        server["allowed_tools"] = tool.allowed_tools
    return server


def response_id(task_id: str) -> str:
    return PREFIX + task_id


def usage_of(usage: Usage | None) -> dict[str, Any] | None:
    if usage is None:
        return None
    return {
        "input_tokens": usage.prompt_tokens,
        "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
        "output_tokens": usage.completion_tokens,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": usage.total_tokens,
    }


def output_of(task: Task, result: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The output items of a completed task's stored chat completion: each tool call's thought and call, then
    the answer."""
    if task.status != TaskStatus.COMPLETED or not result:
        return []
    message = result["choices"][0]["message"]
    items: list[dict[str, Any]] = []
    for step in message.get("reasoning_steps") or []:
        if step.get("thought"):
            items.append(message_item(task.id, len(items), step["thought"]))
        call = step.get("mcp_tool_call") or {}
        ended = {"output": call.get("result"), "is_error": call.get("is_error")}
        items.append(
            mcp_call_item(
                task.id, len(items), call.get("server", ""), call.get("tool", ""), call.get("arguments", "{}"), **ended
            )
        )
    items.append(message_item(task.id, len(items), message.get("content") or ""))
    return items


def finish_reason(result: dict[str, Any] | None) -> str | None:
    return result["choices"][0].get("finish_reason") if result else None


def status_of(task: Task, result: dict[str, Any] | None) -> str:
    if task.status == TaskStatus.COMPLETED and finish_reason(result) in INCOMPLETE:
        return "incomplete"
    return STATUS[task.status]


def instructions_of(request: dict[str, Any] | None) -> str | None:
    messages = (request or {}).get("messages") or []
    first = messages[0] if messages else {}
    return first.get("content") if first.get("role") == "system" and first.get("name") == INSTRUCTIONS else None


def tools_of(request: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The request's MCP tools as a Response shows them (never their headers, which are sealed at rest)."""
    return [
        {
            "type": "mcp",
            "server_label": server.get("name"),
            "server_url": server.get("url"),
            "allowed_tools": server.get("allowed_tools"),
            "headers": None,
            "require_approval": "never",
        }
        for server in (request or {}).get("mcp_servers") or []
    ]


def response_object(
    task: Task,
    request: dict[str, Any] | None,
    result: dict[str, Any] | None,
    output: list[dict[str, Any]] | None = None,
    *,
    background: bool = True,
) -> dict[str, Any]:
    """The Response object of a chat task (its stored request and, once completed, its result); `output` in place
    of the result's (a stream's items so far); `background` False for a batch's output line."""
    request = request or {}
    status = status_of(task, result)
    ended = task.completed_at or task.failed_at or task.cancelled_at
    reason = INCOMPLETE.get(finish_reason(result) or "") if status == "incomplete" else None
    return {
        "id": response_id(task.id),
        "object": "response",
        "created_at": task.created_at // 1000,
        "status": status,
        "background": background,
        "completed_at": task.completed_at // 1000 if task.completed_at else None,
        "error": task.error.model_dump() if task.error and task.status == TaskStatus.FAILED else None,
        "incomplete_details": {"reason": reason} if reason else None,
        "instructions": instructions_of(request),
        "max_output_tokens": request.get("max_tokens"),
        "metadata": request.get("metadata") or {},
        "model": task.model,
        "output": output if output is not None else output_of(task, result),
        "parallel_tool_calls": True,
        "previous_response_id": None,
        "service_tier": task.service_tier.value,
        "store": True,
        "temperature": request.get("temperature"),
        "text": {"format": {"type": "text"}},
        "tool_choice": "auto",
        "tools": tools_of(request),
        "top_p": request.get("top_p"),
        "truncation": "disabled",
        "usage": usage_of(task.usage) if ended else None,
    }


def input_items(task: Task, request: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The request's input as OpenAI lists a response's input items, oldest first (its instructions are not one)."""
    messages = list((request or {}).get("messages") or [])
    if instructions_of(request) is not None:
        messages = messages[1:]
    return [input_item(task.id, i, message) for i, message in enumerate(messages)]
