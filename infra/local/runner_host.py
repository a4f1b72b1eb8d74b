"""One instance of the long-task runner function: serves Lambda's Invoke API on 127.0.0.1 to the local
durable execution service and runs the real handler, with a Lambda context that runs out after the
function's timeout. Started (and restarted when it dies) by infra.local.durable.RunnerHost."""

from __future__ import annotations

import json
import math
import os
import sys
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from asyncinfer.routes import HANDLERS
from infra.local.functions import LocalContext, LocalFunctions
from infra.local.quiet import quiet_runner_console

REPORTS = os.environ.get("ASYNCINFER_RUNNER_REPORTS") == "1"


def serve(port: int, timeout_seconds: float) -> None:
    handler = LocalFunctions().handler("runner")

    class Invoke(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            return None

        def do_POST(self) -> None:
            event = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
            context = LocalContext(function_name="asyncinfer-runner", timeout_seconds=timeout_seconds)
            headers = {"X-Amzn-RequestId": str(uuid.uuid4()), "X-Amz-Executed-Version": "$LATEST"}
            started = time.perf_counter()
            try:
                answer = handler(event, context)
            except Exception as exc:  # a function error, as Lambda reports it
                headers["X-Amz-Function-Error"] = "Unhandled"
                answer = {"errorMessage": str(exc), "errorType": type(exc).__name__}
            if REPORTS:  # Lambda's REPORT log line: what an invocation is billed for
                took = (time.perf_counter() - started) * 1000
                request = headers["X-Amzn-RequestId"]
                print(f"REPORT RequestId: {request} Duration: {took:.2f} ms Billed Duration: {math.ceil(took)} ms")
            data = json.dumps(answer).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

    server = ThreadingHTTPServer(("127.0.0.1", port), Invoke)
    server.daemon_threads = True
    server.serve_forever()


if __name__ == "__main__":
    assert "runner" in HANDLERS
    quiet_runner_console()
    serve(int(sys.argv[1]), float(sys.argv[2]))
