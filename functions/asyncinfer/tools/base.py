"""The tool interface the worker's tool loop uses: offer tools to a model, run the calls it makes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol


class ToolsUnavailable(Exception):
    """A tool server could not be reached or set up when the task started."""

    def __init__(self, server: str, reason: str) -> None:
        super().__init__(f"MCP server {server!r}: {reason}")
        self.server = server
        self.reason = reason


class ToolServerMisbehaved(Exception):
    """A tool server broke the limits every server must keep (a response over the byte cap): the task
    fails with `code`, as a retry would meet the same server."""

    def __init__(self, server: str, code: str, reason: str) -> None:
        super().__init__(f"MCP server {server!r}: {reason}")
        self.server = server
        self.code = code


@dataclass(frozen=True)
class ToolOutcome:
    server: str
    tool: str
    arguments: dict[str, Any]
    content: str
    is_error: bool
    truncated: bool = False


class ToolHost(Protocol):
    def offered(self) -> list[dict[str, Any]]:
        """The tools in OpenAI's `tools` format, named `<server>__<tool>`."""

    def owns(self, name: str) -> bool: ...

    async def call(self, name: str, arguments: str) -> ToolOutcome:
        """Run one call; a failure is an outcome with is_error, never an exception."""
