"""A small MCP server for trying tool use with `make dev`:

    .venv/bin/python examples/mcp_server.py            # http://127.0.0.1:8765/mcp

then submit a chat task with "mcp_servers": [{"name": "demo", "url": "http://127.0.0.1:8765/mcp"}]
(docs/guide/mcp.md). Built on the official MCP SDK's MCPServer (FastMCP in SDK 1.x).
"""

from __future__ import annotations

import argparse

from mcp.server.mcpserver import MCPServer


def build() -> MCPServer:
    server = MCPServer("asyncinfer-demo-tools")

    @server.tool()
    def add(a: int, b: int) -> int:
        """Add two integers."""
        return a + b

    @server.tool()
    def lookup(city: str) -> str:
        """The (made-up) weather of a city."""
        return f"{city}: 18 C and sunny"

    @server.tool()
    def explode() -> str:
        """Always fails, to show how a tool error reads."""
        raise ValueError("the tool exploded")

    return server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args()
    import uvicorn

    uvicorn.run(build().streamable_http_app(host=args.host), host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
