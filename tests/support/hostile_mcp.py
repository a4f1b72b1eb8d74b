"""A hostile MCP server on loopback, speaking just enough streamable HTTP (JSON-RPC over POST, JSON answers)
to be connected to and called: it answers `initialize` slowly, runs its one tool (`explode`) slowly, or
answers the call with a body of any size, streamed from one small buffer (so the test process that hosts it
spends no memory on it and the client's memory can be measured)."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

CHUNK = b"A" * 65536


class HostileMcpServer:
    def __init__(self, *, connect_delay: float = 0, call_delay: float = 0, result_bytes: int = 0) -> None:
        self.connect_delay = connect_delay
        self.call_delay = call_delay
        self.result_bytes = result_bytes
        self.calls = 0
        self.sent = 0  # bytes of the huge answer actually written before the client hung up
        hostile = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:  # no server-initiated stream
                self.send_response(405)
                self.send_header("content-length", "0")
                self.end_headers()

            do_DELETE = do_GET

            def do_POST(self) -> None:
                message = json.loads(self.rfile.read(int(self.headers.get("content-length") or 0)))
                if "id" not in message:  # a notification
                    self.send_response(202)
                    self.send_header("content-length", "0")
                    self.end_headers()
                    return
                method = message["method"]
                if method == "initialize":
                    time.sleep(hostile.connect_delay)
                    result = {
                        "protocolVersion": message["params"]["protocolVersion"],
                        "capabilities": {"tools": {}},
                        "serverInfo": {"name": "hostile", "version": "1"},
                    }
                elif method == "tools/list":
                    result = {"tools": [{"name": "explode", "inputSchema": {"type": "object", "properties": {}}}]}
                elif method == "tools/call":
                    hostile.calls += 1
                    time.sleep(hostile.call_delay)
                    if hostile.result_bytes:
                        self._huge(message["id"])
                        return
                    result = {"content": [{"type": "text", "text": "boom"}]}
                else:
                    result = {}
                body = json.dumps({"jsonrpc": "2.0", "id": message["id"], "result": result}).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _huge(self, request_id: int) -> None:
                # No content-length: the body runs until the connection closes, as a hostile server may send it.
                self.close_connection = True
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("connection", "close")
                self.end_headers()
                head = b'{"jsonrpc": "2.0", "id": %d, "result": {"content": [{"type": "text", "text": "' % request_id
                try:
                    self.wfile.write(head)
                    while hostile.sent < hostile.result_bytes:
                        self.wfile.write(CHUNK)
                        hostile.sent += len(CHUNK)
                    self.wfile.write(b'"}]}}')
                except OSError:
                    pass  # the client hung up: what it should do

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/mcp"

    def __enter__(self) -> HostileMcpServer:
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._server.shutdown()
        self._server.server_close()
