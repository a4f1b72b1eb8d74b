"""Request bodies, validated strictly at the boundary: wrong types are rejected, never coerced. Chat bodies
and webhooks are here; the JSON they are read from in asyncinfer.domain.client_json, generation bodies in
asyncinfer.domain.generation."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from asyncinfer.domain import fields
from asyncinfer.domain.errors import InvalidRequest
from asyncinfer.domain.messages import FIELDS as MESSAGE_FIELDS
from asyncinfer.domain.messages import PART_TYPES, check_messages
from asyncinfer.domain.model import WebhookTarget

if TYPE_CHECKING:
    from asyncinfer.domain.ssrf import Outbound

MAX_MESSAGES = 1000


def _message_schema(schema: dict[str, Any]) -> None:
    """The document shows what a client may send (asyncinfer.domain.messages); the model itself reads stored
    messages leniently."""
    text = {"type": "string"}
    schema["properties"].update(
        content={
            "anyOf": [
                text,
                {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "object",
                        "required": ["type"],
                        "properties": {"type": {"enum": sorted({t for ts in PART_TYPES.values() for t in ts})}},
                    },
                },
                {"type": "null"},
            ],
            "description": "A string or content parts; null only in an assistant message with tool_calls",
        },
        name=text,
        tool_call_id={**text, "description": "Tool messages: the tool call answered (required there)"},
        tool_calls={"type": "array", "items": {"type": "object"}, "description": "Assistant messages"},
        **{
            name: {"description": "Assistant messages"}
            for name in sorted(MESSAGE_FIELDS["assistant"] - MESSAGE_FIELDS["user"] - {"tool_calls"})
        },
    )
    schema["additionalProperties"] = False
    schema["description"] = (
        "A chat message. Each role takes its own fields; any other key is a 400 naming it (unknown_field)."
    )


class Message(BaseModel):
    model_config = ConfigDict(defer_build=True, strict=True, extra="allow", json_schema_extra=_message_schema)

    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[dict[str, Any]] | None = None

    def text(self) -> str:
        if isinstance(self.content, str):
            return self.content
        parts = self.content or []
        return " ".join(p["text"] for p in parts if p.get("type") == "text" and isinstance(p.get("text"), str))


MAX_MCP_SERVERS = 10
MAX_CORRELATION_ID = 256
# Short strings a client names things with (header names, tool names) and the values it sends along.
ShortText = Annotated[str, Field(max_length=256)]
HeaderValue = Annotated[str, Field(max_length=4096)]


def _outbound_url(kind: str, example: str) -> Callable[[str, ValidationInfo], str]:
    def check(value: str, info: ValidationInfo) -> str:
        """A URL the service will connect to on a client's behalf, checked at submit without DNS under the
        deployment's policy for `kind` (passed in the validation context). Without one, only what no policy
        allows (link-local, metadata) is refused here; the connection is always checked again, with DNS."""
        from asyncinfer.domain.ssrf import OutboundPolicy, RefusedUrl, check_literal

        scheme = urlsplit(value).scheme
        if scheme not in ("http", "https"):
            other = f"; {scheme}:// URLs are not" if scheme and f"{scheme}://" in value.lower() else ""
            raise PydanticCustomError(
                "url_scheme",
                "must start with https:// (or http://), e.g. {example}{other}",
                {"example": example, "other": other},
            )
        policy = (info.context or {}).get(kind) or OutboundPolicy(allow_private=True)
        try:
            check_literal(value, policy)
        except RefusedUrl as exc:
            raise PydanticCustomError("url_refused", "{reason}", {"reason": exc.message}) from None
        return value

    return check


_URL = Field(max_length=2048)
McpUrl = Annotated[str, _URL, AfterValidator(_outbound_url("mcp", "https://example.com/mcp"))]
WebhookUrl = Annotated[str, _URL, AfterValidator(_outbound_url("webhooks", "https://example.com/hook"))]


class McpServer(BaseModel):
    """An MCP server the model may use tools from, for this task only."""

    model_config = ConfigDict(defer_build=True, strict=True, extra="forbid")

    url: McpUrl
    name: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_-]{1,32}$")
    transport: Literal["streamable_http", "streamable-http", "http", "sse"] = "streamable_http"
    headers: dict[ShortText, HeaderValue] = Field(default_factory=dict, max_length=32)
    # A bearer token (or a whole `Scheme value`) sent as the Authorization header.
    authorization: str | None = Field(default=None, max_length=4096)
    allowed_tools: list[ShortText] | None = Field(default=None, max_length=128)

    @property
    def is_sse(self) -> bool:
        return self.transport == "sse"


class WebhookRequest(BaseModel):
    """`webhook` of a submit or a batch: a URL, and the events it wants (all when omitted)."""

    model_config = ConfigDict(defer_build=True, strict=True, extra="forbid")

    url: WebhookUrl
    events: list[str] | None = Field(default=None, min_length=1, max_length=8)


TIER_DOC = "The class: priority, default or flex (OpenAI's auto and standard are default, scale is priority)"
START_DOC = "Seconds from the submit: not started by then, the task ends FAILED start_timeout and never runs"
EXECUTION_DOC = "Seconds from its start: still running then, it is stopped and ends FAILED deadline_exceeded"
COMPLETE_BY_DOC = (
    "Done by this time, as cheaply as possible: an RFC 3339 time with its offset, epoch seconds, or +<duration> "
    "from the submit (+90m). The service then picks the class (leave service_tier out); never sent to the model"
)


class ChatRequest(BaseModel):
    """An OpenAI-style chat completion body. Fields we do not know are kept and passed along."""

    model_config = ConfigDict(defer_build=True, strict=True, extra="allow")

    model: str = Field(min_length=1, max_length=256)
    messages: list[Message] = Field(min_length=1, max_length=MAX_MESSAGES)
    max_tokens: int | None = Field(default=None, ge=1)
    mcp_servers: list[McpServer] | None = Field(default=None, max_length=MAX_MCP_SERVERS)
    # Kept on the task record and echoed on reads: bounded, as everything stored is.
    correlation_id: str | None = Field(default=None, max_length=MAX_CORRELATION_ID)
    # Told when the task ends (task.completed, task.failed, task.cancelled); never sent to the model.
    webhook: WebhookRequest | None = Field(default=None, exclude=True)
    # The class and the deadlines (asyncinfer.domain.lanes and .deadlines check them): the deadlines are
    # kept on the task, not in the request; neither is sent upstream.
    service_tier: str | None = Field(default=None, description=TIER_DOC)
    start_timeout: float | None = Field(default=None, exclude=True, description=START_DOC)
    execution_timeout: float | None = Field(default=None, exclude=True, description=EXECUTION_DOC)
    complete_by: int | str | None = Field(default=None, exclude=True, description=COMPLETE_BY_DOC)

    @field_validator("mcp_servers")
    @classmethod
    def _server_names_unique(cls, servers: list[McpServer] | None) -> list[McpServer] | None:
        names = [server_name(s, i) for i, s in enumerate(servers or [])]
        if len(set(names)) != len(names):
            raise ValueError("mcp_servers need distinct names")
        return servers

    def last_user_text(self) -> str:
        for message in reversed(self.messages):
            if message.role == "user":
                return message.text()
        return ""


def server_name(server: McpServer, index: int) -> str:
    return server.name or f"mcp{index + 1}"


_ASCII_DIGITS = re.compile(r"[0-9]{1,10}")


def parse_limit(params: dict[str, str], default: int = 20) -> int:
    """A list's `limit` query parameter: ASCII digits only (str.isdigit also takes "²", which int refuses)."""
    raw = params.get("limit", str(default))
    if not _ASCII_DIGITS.fullmatch(raw):
        raise InvalidRequest("limit must be an integer between 1 and 100")
    return int(raw)


def validation_message(exc: ValidationError, prefix: str = "") -> str:
    """One readable line per problem, e.g. `max_tokens: Input should be greater than or equal to 1`."""
    problems = []
    for err in exc.errors(include_url=False)[:10]:
        where = (prefix + ".".join(str(p) for p in err["loc"])).rstrip(".") or "body"
        problems.append(f"{where}: {err['msg']}")
    return "; ".join(problems)


def _context(outbound: Outbound | None) -> dict[str, Any] | None:
    return {"mcp": outbound.mcp, "webhooks": outbound.webhooks} if outbound else None


def check_chat_body(data: dict[str, Any]) -> None:
    """What the model alone does not catch in a chat body a client sent: a field that is a near miss of a
    known one (other unknown fields are passed along), and messages that break the Chat Completions rules."""
    fields.check_near_misses(data, fields.CHAT)
    check_messages(data.get("messages"))


def parse_chat_request(data: dict[str, Any], outbound: Outbound | None = None) -> ChatRequest:
    """A chat body from a client, checked (check_chat_body) and validated."""
    check_chat_body(data)
    try:
        return ChatRequest.model_validate(data, context=_context(outbound))
    except ValidationError as exc:
        raise InvalidRequest(validation_message(exc)) from None


def parse_webhook(value: Any, events: tuple[str, ...], outbound: Outbound | None = None) -> WebhookTarget | None:
    """The `webhook` field (None when absent), its events limited to `events`."""
    if value is None:
        return None
    if not isinstance(value, dict):
        sent = {str: "a string", list: "an array", bool: "a boolean"}.get(type(value), "a number")
        raise InvalidRequest(f'webhook must be an object such as {{"url": "https://example.com/hook"}}, not {sent}')
    try:
        request = WebhookRequest.model_validate(value, context=_context(outbound))
    except ValidationError as exc:
        raise InvalidRequest(validation_message(exc, prefix="webhook.")) from None
    unknown = sorted(set(request.events or ()) - set(events))
    if unknown:
        raise InvalidRequest(f"webhook.events: unknown event {unknown[0]!r}; known: {', '.join(events)}")
    return WebhookTarget(url=request.url, events=sorted(set(request.events)) if request.events else None)
