"""A loopback stand-in for the part of Lambda's API the runner prune calls (ListVersionsByFunction,
ListAliases, ListDurableExecutionsByFunction, DeleteFunction with a qualifier), answered as Lambda's REST
API does; a handler reaches it through AWS_ENDPOINT_URL_LAMBDA, in process or from a bundle."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar
from urllib.parse import parse_qs, unquote, urlsplit


class LambdaVersions:
    """One function's versions ($LATEST, 1..n), its alias `live` and which versions have a RUNNING execution;
    records the versions deleted. One server per process (shared), reset per test."""

    _shared: ClassVar[LambdaVersions | None] = None

    def __init__(self) -> None:
        self.reset("", 0, "0", set())
        fake = self

        class Api(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                return None

            def do_GET(self) -> None:
                self._answer(*fake.get(*self._parsed()))

            def do_DELETE(self) -> None:
                self._answer(*fake.delete(*self._parsed()))

            def _parsed(self) -> tuple[list[str], dict[str, list[str]]]:
                url = urlsplit(self.path)
                return [unquote(p) for p in url.path.strip("/").split("/")], parse_qs(url.query)

            def _answer(self, status: int, body: dict | None) -> None:
                data = json.dumps(body).encode() if body is not None else b""
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Api)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    @classmethod
    def shared(cls) -> LambdaVersions:
        if cls._shared is None:
            cls._shared = cls()
        return cls._shared

    def reset(self, function: str, versions: int, live: str, running: set[str]) -> None:
        self.function, self.versions, self.live, self.running = function, versions, live, running
        self.deleted: list[str] = []
        self.listed: list[tuple[str, list[str]]] = []  # (qualifier, statuses) of each execution listing

    def _arn(self, qualifier: str) -> str:
        return f"arn:aws:lambda:us-east-1:000000000000:function:{self.function}:{qualifier}"

    def _alive(self) -> list[str]:
        return ["$LATEST"] + [str(n) for n in range(1, self.versions + 1) if str(n) not in self.deleted]

    def get(self, path: list[str], query: dict[str, list[str]]) -> tuple[int, dict]:
        _, _, name, what = path
        if name != self.function:
            return 404, {"Type": "User", "Message": f"Function not found: {name}"}
        if what == "versions":
            versions = [{"FunctionName": name, "FunctionArn": self._arn(v), "Version": v} for v in self._alive()]
            return 200, {"Versions": versions}
        if what == "aliases":
            return 200, {"Aliases": [{"AliasArn": self._arn("live"), "Name": "live", "FunctionVersion": self.live}]}
        qualifier = query["Qualifier"][0]
        self.listed.append((qualifier, query.get("Statuses", [])))
        found = [
            {
                "DurableExecutionArn": f"{self._arn(qualifier)}/durable-execution/task/1",
                "DurableExecutionName": "task",
                "FunctionArn": self._arn(qualifier),
                "Status": "RUNNING",
                "StartTimestamp": 1764547200,
            }
        ]
        return 200, {"DurableExecutions": found if qualifier in self.running and "RUNNING" in query["Statuses"] else []}

    def delete(self, path: list[str], query: dict[str, list[str]]) -> tuple[int, None]:
        (qualifier,) = query["Qualifier"]
        self.deleted.append(qualifier)
        return 204, None
