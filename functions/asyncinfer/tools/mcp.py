"""Tools from MCP servers, through the official MCP Python SDK (streamable HTTP or SSE)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import Any

import httpx2
from mcp import ClientSession
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

from asyncinfer.tasks.requests import McpServer, server_name
from asyncinfer.tasks.ssrf import STRICT, OutboundPolicy, RefusedUrl, check_url
from asyncinfer.tools.base import ToolOutcome, ToolsUnavailable

SEPARATOR = "__"


@dataclass(frozen=True)
class McpPolicy:
    connect_seconds: float = 10
    call_seconds: float = 30
    max_result_bytes: int = 16 * 1024
    outbound: OutboundPolicy = STRICT  # private addresses: locally, or allow-listed on AWS


@dataclass
class _Server:
    name: str
    session: ClientSession
    tools: dict[str, Any] = field(default_factory=dict)


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

    async def __aenter__(self) -> McpToolHost:
        try:
            for index, server in enumerate(self._config):
                name = server_name(server, index)
                try:
                    await asyncio.wait_for(self._connect(name, server), self._policy.connect_seconds)
                except RefusedUrl as exc:
                    raise ToolsUnavailable(name, exc.message) from None
                except TimeoutError:
                    raise ToolsUnavailable(name, f"no answer within {self._policy.connect_seconds:g} s") from None
                except ToolsUnavailable:
                    raise
                except BaseException as exc:  # the SDK wraps transport failures in exception groups
                    raise ToolsUnavailable(name, _reason(exc)) from None
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
        await asyncio.to_thread(check_url, server.url, policy.outbound)
        timeout = httpx2.Timeout(policy.connect_seconds, read=policy.call_seconds)
        if server.is_sse:
            streams = await self._stack.enter_async_context(
                sse_client(
                    server.url,
                    headers=_headers(server),
                    timeout=policy.connect_seconds,
                    sse_read_timeout=policy.call_seconds,
                )
            )
        else:
            client = await self._stack.enter_async_context(
                create_mcp_http_client(headers=_headers(server), timeout=timeout)
            )
            streams = await self._stack.enter_async_context(streamable_http_client(server.url, http_client=client))
        session = await self._stack.enter_async_context(
            ClientSession(streams[0], streams[1], read_timeout_seconds=policy.call_seconds)
        )
        await session.initialize()
        listed = await session.list_tools()
        allowed = set(server.allowed_tools) if server.allowed_tools is not None else None
        tools = {t.name: t for t in listed.tools if allowed is None or t.name in allowed}
        self._servers[name] = _Server(name, session, tools)

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
            if isinstance(exc, asyncio.CancelledError):
                raise
            return ToolOutcome(server.name, tool, args, f"Error: the tool server failed: {_reason(exc)}", True)
        content = _text(result)
        encoded = content.encode()
        truncated = len(encoded) > self._policy.max_result_bytes
        if truncated:
            content = encoded[: self._policy.max_result_bytes].decode(errors="ignore") + "\n[truncated]"
        return ToolOutcome(server.name, tool, args, content, bool(result.is_error), truncated)


def _reason(exc: BaseException) -> str:
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
