"""Tools from MCP servers, through the official MCP Python SDK (streamable HTTP or SSE)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx2
from mcp import ClientSession
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from asyncinfer.domain.requests import McpServer, server_name
from asyncinfer.domain.ssrf import STRICT, OutboundPolicy, RefusedUrl, checked_addresses
from asyncinfer.tools.base import ToolOutcome, ToolServerMisbehaved, ToolsUnavailable
from asyncinfer.tools.guarded_http import GuardedTransport, system_resolver

SEPARATOR = "__"
_TRACE_CONTEXT = TraceContextTextMapPropagator()


@dataclass(frozen=True)
class McpPolicy:
    connect_seconds: float = 10
    call_seconds: float = 30
    max_result_bytes: int = 16 * 1024
    # Any one HTTP response from a server (a whole SSE session counts as one), read as a stream and cut.
    max_response_bytes: int = 4 * 1024 * 1024
    outbound: OutboundPolicy = STRICT  # private addresses: locally, or allow-listed on AWS


@dataclass
class _Server:
    name: str
    session: ClientSession
    tools: dict[str, Any] = field(default_factory=dict)
    transport: GuardedTransport | None = None


def _headers(server: McpServer) -> dict[str, str]:
    headers = dict(server.headers)
    if server.authorization:
        token = server.authorization
        headers["Authorization"] = token if " " in token else f"Bearer {token}"
    return headers


def _text(result: Any) -> str:
    parts = []
    for item in result.content or []:
        text = getattr(item, "text", None)
        parts.append(text if isinstance(text, str) else json.dumps(item.model_dump(mode="json", exclude_none=True)))
    if not parts and getattr(result, "structured_content", None) is not None:
        parts.append(json.dumps(result.structured_content))
    return "\n".join(parts)


class McpToolHost:
    """Connects to every server of a task (all or nothing), lists their tools, and runs calls."""

    def __init__(self, servers: list[McpServer], policy: McpPolicy = McpPolicy()) -> None:
        self._config = servers
        self._policy = policy
        self._servers: dict[str, _Server] = {}
        self._stack = AsyncExitStack()
        self._trace: dict[str, str] = {}

    async def __aenter__(self) -> McpToolHost:
        self._trace = _current_trace()
        try:
            for index, server in enumerate(self._config):
                name = server_name(server, index)
                try:
                    # In this task (not wait_for's): the SDK's contexts are entered here and left in _close.
                    async with asyncio.timeout(self._policy.connect_seconds):
                        await self._connect(name, server)
                except RefusedUrl as exc:
                    raise ToolsUnavailable(name, exc.message) from None
                except TimeoutError:
                    raise ToolsUnavailable(
                        name, f"{_shown(server.url)}: no answer within {self._policy.connect_seconds:g} s"
                    ) from None
                except (ToolsUnavailable, ToolServerMisbehaved):
                    raise
                except BaseException as exc:  # the SDK wraps transport failures in exception groups
                    if _cancelled(exc):
                        raise
                    raise ToolsUnavailable(name, f"{_shown(server.url)}: {_reason(exc)}") from None
        except BaseException:
            await self._close()
            raise
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self._close()

    async def _close(self) -> None:
        # A server that died must not fail a finished task.
        with contextlib.suppress(BaseException):
            await self._stack.aclose()

    async def _connect(self, name: str, server: McpServer) -> None:
        policy = self._policy
        # Checked once, then every connection goes to that address: DNS is not asked again.
        (address, *_) = await asyncio.to_thread(checked_addresses, server.url, policy.outbound, system_resolver)
        transport = GuardedTransport({urlsplit(server.url).hostname or "": address}, policy.max_response_bytes)

        def client(
            headers: dict[str, str] | None = None, timeout: httpx2.Timeout | None = None, auth: Any = None
        ) -> httpx2.AsyncClient:
            timeout = timeout or httpx2.Timeout(policy.connect_seconds, read=policy.call_seconds)
            return httpx2.AsyncClient(
                transport=transport, headers=headers, timeout=timeout, auth=auth, event_hooks={"request": [self._stamp]}
            )

        if server.is_sse:
            streams = await self._stack.enter_async_context(
                sse_client(
                    server.url,
                    headers=_headers(server),
                    timeout=policy.connect_seconds,
                    sse_read_timeout=policy.call_seconds,
                    httpx_client_factory=client,
                )
            )
        else:
            http = await self._stack.enter_async_context(client(headers=_headers(server)))
            streams = await self._stack.enter_async_context(streamable_http_client(server.url, http_client=http))
        session = await self._stack.enter_async_context(
            ClientSession(streams[0], streams[1], read_timeout_seconds=policy.call_seconds)
        )
        try:
            await session.initialize()
            listed = await session.list_tools()
        except BaseException as exc:
            if transport.exceeded:
                raise self._too_large(name) from None
            if transport.failure is not None and not _cancelled(exc):
                raise ToolsUnavailable(name, f"{_shown(server.url)}: {_reason(transport.failure)}") from None
            raise
        allowed = set(server.allowed_tools) if server.allowed_tools is not None else None
        tools = {t.name: t for t in listed.tools if allowed is None or t.name in allowed}
        self._servers[name] = _Server(name, session, tools, transport)

    async def _stamp(self, request: httpx2.Request) -> None:
        """Every request carries the `traceparent` of the connect or of the call in progress: the SDK sends from
        its own tasks, which do not see the caller's current span."""
        request.headers.update(self._trace)

    def _too_large(self, name: str) -> ToolServerMisbehaved:
        limit = self._policy.max_response_bytes
        return ToolServerMisbehaved(name, "mcp_response_too_large", f"sent a response over {limit} bytes")

    def offered(self) -> list[dict[str, Any]]:
        out = []
        for server in self._servers.values():
            for tool in server.tools.values():
                function: dict[str, Any] = {
                    "name": f"{server.name}{SEPARATOR}{tool.name}",
                    "parameters": tool.input_schema or {"type": "object", "properties": {}},
                }
                if tool.description:
                    function["description"] = tool.description
                out.append({"type": "function", "function": function})
        return out

    def owns(self, name: str) -> bool:
        server, _, tool = name.partition(SEPARATOR)
        return server in self._servers and tool in self._servers[server].tools

    async def call(self, name: str, arguments: str) -> ToolOutcome:
        self._trace = _current_trace()  # the caller's span of this call (asyncinfer.observability.genai's)
        server_name_, _, tool = name.partition(SEPARATOR)
        try:
            args = json.loads(arguments or "{}")
            if not isinstance(args, dict):
                raise ValueError("arguments must be a JSON object")
        except ValueError as exc:
            return ToolOutcome(server_name_, tool, {}, f"Error: the arguments are not a JSON object ({exc})", True)
        server = self._servers[server_name_]
        try:
            result = await asyncio.wait_for(
                server.session.call_tool(tool, args, read_timeout_seconds=self._policy.call_seconds),
                self._policy.call_seconds + 1,
            )
        except TimeoutError:
            message = f"Error: no result within {self._policy.call_seconds:g} s"
            return ToolOutcome(server.name, tool, args, message, True)
        except BaseException as exc:  # the server died or the connection broke mid-task
            # Over the byte cap the SDK cancels its own scopes, and with them this task.
            if server.transport and server.transport.exceeded:
                raise self._too_large(server.name) from None
            if _cancelled(exc):
                raise
            return ToolOutcome(server.name, tool, args, f"Error: the tool server failed: {_reason(exc)}", True)
        content = _text(result)
        encoded = content.encode()
        truncated = len(encoded) > self._policy.max_result_bytes
        if truncated:
            content = encoded[: self._policy.max_result_bytes].decode(errors="ignore") + "\n[truncated]"
        return ToolOutcome(server.name, tool, args, content, bool(result.is_error), truncated)


def _current_trace() -> dict[str, str]:
    """`{"traceparent": ...}` of the current span (W3C Trace Context), or {} outside any."""
    carrier: dict[str, str] = {}
    _TRACE_CONTEXT.inject(carrier)
    return carrier


def _cancelled(exc: BaseException) -> bool:
    """This task is cancelled from outside the SDK (the task's deadline, the worker), as opposed to the SDK
    cancelling its own scope because a server's connection broke, which surfaces as a CancelledError too
    (anyio names its scope in the message)."""
    if not isinstance(exc, asyncio.CancelledError):
        return False
    return not any(str(arg).startswith("Cancelled via cancel scope") for arg in exc.args)


def _reason(exc: BaseException) -> str:
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _shown(url: str) -> str:
    """The server's URL for a message, without what may hold a credential (user info, query)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname}{f':{parts.port}' if parts.port else ''}{parts.path}"
