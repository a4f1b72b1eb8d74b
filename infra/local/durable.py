"""Lambda durable functions on the laptop: the official testing SDK's local durable execution service
(aws-durable-execution-sdk-python-testing) runs the long-task runner's executions, checkpoints and waits,
and invokes the runner's real handler in a process of its own (infra.local.runner_host), restarted
whenever it dies, with the same per-invocation timeout a Lambda function has.

The worker and the API reach it as they reach Lambda, through boto3's "lambda" client: a small front
(LambdaFront) answers the asynchronous Invoke with a durable execution name, the way Lambda does (one
execution per name: the same payload again is answered with that execution, another payload with
DurableExecutionAlreadyStartedException), and passes the durable-execution API (get, stop, list) through to
the service.
"""

from __future__ import annotations

import json
import logging
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from aws_durable_execution_sdk_python_testing.runner import WebRunner, WebRunnerConfig
from aws_durable_execution_sdk_python_testing.stores.base import StoreType
from aws_durable_execution_sdk_python_testing.web.server import WebServiceConfig

from infra.local.launch import free_port

log = logging.getLogger(__name__)
ROOT = Path(__file__).resolve().parents[2]
ACCOUNT = "000000000000"
RUNNER_NAME = "asyncinfer-runner"
# How long one execution may run in all (the deployed runner's durable config says the same).
EXECUTION_TIMEOUT_SECONDS = 7 * 86400
INVOKE_PATH = "/2015-03-31/functions/"
LIST_PATH = re.compile(r"/2025-12-01/functions/([^/]+)/durable-executions")


class DurableService:
    """The testing SDK's web runner, in a thread of this process, with its executions in SQLite."""

    def __init__(self, host_url: str, invocation_timeout: int, region: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._dir = tempfile.TemporaryDirectory(prefix="asyncinfer-durable-")
        config = WebRunnerConfig(
            web_service=WebServiceConfig(host="127.0.0.1", port=self.port, log_level=logging.WARNING),
            lambda_endpoint=host_url,
            local_runner_region=region,
            store_type=StoreType.SQLITE,
            store_path=str(Path(self._dir.name) / "executions.db"),
            invocation_timeout_seconds=invocation_timeout,
        )
        self._runner = WebRunner(config)
        self._thread = threading.Thread(target=self._serve, name="durable-service", daemon=True)

    def start(self) -> None:
        self._runner.start()
        self._thread.start()

    def _serve(self) -> None:
        self._runner.serve_forever()

    def stop(self) -> None:
        server = getattr(self._runner, "_server", None)  # serve_forever ends only when its server shuts down
        if server is not None:
            server.shutdown()
        self._runner.stop()
        self._dir.cleanup()


class RunnerHost:
    """The runner function's instance: a child process serving Lambda's Invoke API to the durable service.
    A killed instance is replaced, as Lambda starts a new one; the service invokes again and replays."""

    def __init__(self, invocation_timeout: int) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._timeout = invocation_timeout
        self._env: dict[str, str] = {}
        self._process: subprocess.Popen | None = None
        self._stopping = threading.Event()
        self._watch = threading.Thread(target=self._supervise, name="runner-host", daemon=True)

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def start(self, env: dict[str, str]) -> None:
        self._env = env
        self._spawn()
        deadline = time.monotonic() + 60
        while not _listening(self.port) and time.monotonic() < deadline:
            time.sleep(0.05)
        self._watch.start()

    def _spawn(self) -> None:
        self._process = subprocess.Popen(
            [sys.executable, "-m", "infra.local.runner_host", str(self.port), str(self._timeout)],
            cwd=ROOT,
            env=self._env,
            stdin=subprocess.DEVNULL,
        )
        print(f"  runner    instance started (pid {self._process.pid})", flush=True)

    def _supervise(self) -> None:
        while not self._stopping.wait(0.2):
            if self._process is not None and self._process.poll() is not None:
                self._spawn()

    def stop(self) -> None:
        self._stopping.set()
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()


class LambdaFront:
    """Lambda's API for the callers of the runner: Invoke with a durable execution name starts (at most
    one execution per name) and the durable-execution API is passed through to the service."""

    def __init__(self, service_url: str, region: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._service = service_url
        self._region = region
        self._started: dict[str, tuple[str, bytes]] = {}  # by execution name: its ARN and its payload
        self._lock = threading.Lock()
        front = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                return None

            def do_GET(self) -> None:
                front._pass(self)

            def do_POST(self) -> None:
                if self.path.startswith(INVOKE_PATH):
                    front._invoke(self)
                else:
                    front._pass(self)

            def do_DELETE(self) -> None:
                front._pass(self)

            def do_PUT(self) -> None:
                front._pass(self)

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="lambda-front", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _invoke(self, request: BaseHTTPRequestHandler) -> None:
        body = request.rfile.read(int(request.headers.get("Content-Length") or 0))
        name = request.headers.get("X-Amz-Durable-Execution-Name")
        kind = request.headers.get("X-Amz-Invocation-Type", "RequestResponse")
        if not name or kind != "Event":
            _reply(
                request,
                400,
                {
                    "Type": "InvalidParameterValueException",
                    "message": "The local runner is started by an Event invoke with a durable execution name",
                },
            )
            return
        function = unquote(request.path[len(INVOKE_PATH) :].split("/", 1)[0])
        bare, _, qualifier = function.rpartition(":function:")[2].partition(":")
        with self._lock:  # Lambda keeps one execution per name; the local service does not, so this does
            arn, started_with = self._started.get(name, (None, b""))
            if arn is not None and started_with != body:
                # Lambda's answer to a name already started with another payload.
                _reply(
                    request,
                    409,
                    {"Type": "User", "message": f"A durable execution named {name} was started with another payload"},
                    error="DurableExecutionAlreadyStartedException",
                )
                return
            if arn is None:
                answer = self._post(
                    "/start-durable-execution",
                    {
                        "AccountId": ACCOUNT,
                        "FunctionName": bare,
                        "FunctionQualifier": qualifier or "$LATEST",
                        "ExecutionName": name,
                        "ExecutionTimeoutSeconds": EXECUTION_TIMEOUT_SECONDS,
                        "ExecutionRetentionPeriodDays": 1,
                        "Input": body.decode() or "{}",
                    },
                )
                arn = answer["ExecutionArn"]
                self._started[name] = (arn, body)
        request.send_response(202)
        request.send_header("X-Amz-Durable-Execution-Arn", arn)
        request.send_header("Content-Length", "0")
        request.end_headers()

    def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        call = urllib.request.Request(
            self._service + path, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(call, timeout=10) as answer:
            return json.loads(answer.read())

    def _pass(self, request: BaseHTTPRequestHandler) -> None:
        length = int(request.headers.get("Content-Length") or 0)
        body = request.rfile.read(length) if length else None
        headers = {k: v for k, v in request.headers.items() if k.lower() not in ("host", "content-length")}
        call = urllib.request.Request(
            self._service + _by_bare_name(request.path), data=body, headers=headers, method=request.command
        )
        try:
            with urllib.request.urlopen(call, timeout=60) as answer:
                status, payload, kind = answer.status, answer.read(), answer.headers.get("Content-Type")
        except urllib.error.HTTPError as failed:
            status, payload, kind = failed.code, failed.read(), failed.headers.get("Content-Type")
        request.send_response(status)
        request.send_header("Content-Type", kind or "application/json")
        request.send_header("Content-Length", str(len(payload)))
        request.end_headers()
        request.wfile.write(payload)


def _by_bare_name(path: str) -> str:
    """Lambda takes a function's name or its ARN where the local service, which started the execution under the
    bare name, matches the name only (listing a function's executions)."""
    match = LIST_PATH.fullmatch(path.partition("?")[0])
    if match is None:
        return path
    bare = unquote(match.group(1)).rpartition(":function:")[2].partition(":")[0]
    return path.replace(match.group(1), bare, 1)


def _reply(request: BaseHTTPRequestHandler, status: int, body: dict[str, Any], error: str | None = None) -> None:
    """A JSON answer; an error's code goes in X-Amzn-ErrorType, where botocore reads it."""
    data = json.dumps(body).encode()
    request.send_response(status)
    request.send_header("Content-Type", "application/json")
    if error is not None:
        request.send_header("X-Amzn-ErrorType", error)
    request.send_header("Content-Length", str(len(data)))
    request.end_headers()
    request.wfile.write(data)


class LocalRunner:
    """The three together; `env()` is what the stack's functions need to reach the runner."""

    def __init__(self, invocation_timeout: int, region: str) -> None:
        self.invocation_timeout = invocation_timeout
        self._region = region
        self.host: RunnerHost | None = None
        self.service: DurableService | None = None
        self.front: LambdaFront | None = None

    def start(self, env: dict[str, str]) -> None:
        self.host = RunnerHost(self.invocation_timeout)
        self.service = DurableService(self.host.url, self.invocation_timeout, self._region)
        self.service.start()
        # The handler's checkpoints go straight to the service; every other caller goes through the front.
        self.host.start({**env, "AWS_ENDPOINT_URL_LAMBDA": self.service.url, "PYTHONUNBUFFERED": "1"})
        self.front = LambdaFront(self.service.url, self._region)
        self.front.start()
        deadline = time.monotonic() + 30
        while not _healthy(self.service.url) and time.monotonic() < deadline:
            time.sleep(0.05)

    def env(self) -> dict[str, str]:
        assert self.front is not None
        return {
            "AWS_ENDPOINT_URL_LAMBDA": self.front.url,
            "ASYNCINFER_RUNNER_FUNCTION_ARN": f"arn:aws:lambda:{self._region}:{ACCOUNT}:function:{RUNNER_NAME}:live",
        }

    def stop(self) -> None:
        for part in (self.front, self.host, self.service):
            if part is not None:
                try:
                    part.stop()
                except Exception:  # stopping the rest matters more
                    log.warning("could not stop %s", type(part).__name__, exc_info=True)


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/health", timeout=1) as answer:
            return answer.status == 200
    except OSError:
        return False


def invocation_timeout() -> int:
    """The runner's per-invocation timeout here: the deployed function's (15 minutes) unless set."""
    return int(os.environ.get("ASYNCINFER_RUNNER_TIMEOUT_SECONDS", "900"))
