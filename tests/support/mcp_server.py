"""The example MCP server of docs/guide/mcp.md (the official SDK's MCPServer, formerly FastMCP), run for real over
streamable HTTP on 127.0.0.1 by uvicorn in a thread."""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

import uvicorn
from mcp.server.mcpserver import MCPServer

from examples.mcp_server import build


class RunningMcpServer:
    def __init__(self, server: MCPServer | None = None, *, sse: bool = False) -> None:
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self.port = self._sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}/{'sse' if sse else 'mcp'}"
        server = server or build()
        app = server.sse_app() if sse else server.streamable_http_app()
        # The headers of every request the server got: what a client sent it, credentials included.
        self.headers: list[dict[str, str]] = []

        async def recording(scope: Any, receive: Any, send: Any) -> None:
            if scope["type"] == "http":
                self.headers.append({k.decode().lower(): v.decode() for k, v in scope["headers"]})
            await app(scope, receive, send)

        config = uvicorn.Config(recording, log_level="warning", timeout_graceful_shutdown=1, lifespan="on")
        self._server = uvicorn.Server(config)

    def __enter__(self) -> RunningMcpServer:
        threading.Thread(target=self._server.run, kwargs={"sockets": [self._sock]}, daemon=True).start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("the MCP server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: Any) -> None:
        self._server.should_exit = True


def free_url() -> str:
    """A URL nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/mcp"
