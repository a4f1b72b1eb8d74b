"""The long-task runner's real handler under the testing SDK's local durable execution service, in this
process: the service invokes the runner through `invoke` (a LocalFunctions or a bundle's), and callers
start and read executions through boto3's "lambda" client, as on AWS (infra.local.durable's front)."""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
from aws_durable_execution_sdk_python.lambda_service import LambdaClient

from asyncinfer.executions.lambda_durable import LambdaDurableExecutions
from infra.local.durable import ACCOUNT, RUNNER_NAME, DurableService, LambdaFront

log = logging.getLogger(__name__)
REGION = "us-east-1"
RUNNER_ARN = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{RUNNER_NAME}:live"


class DurableRuntime:
    def __init__(self, invoke: Callable[[dict], Any], invocation_timeout: int = 60) -> None:
        self._invoke = invoke
        runtime = self

        class Invoke(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                return None

            def do_POST(self) -> None:
                event = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
                try:
                    answer = runtime._invoke(event)
                except (KeyboardInterrupt, SystemExit):
                    raise
                except BaseException:  # the instance died mid-invocation: no answer, the connection drops
                    log.info("the runner's invocation died", exc_info=True)
                    self.close_connection = True
                    return
                data = json.dumps(answer).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._endpoint = ThreadingHTTPServer(("127.0.0.1", 0), Invoke)
        self._endpoint.daemon_threads = True
        self.service = DurableService(f"http://127.0.0.1:{self._endpoint.server_port}", invocation_timeout, REGION)
        self.front = LambdaFront(self.service.url, REGION)
        self._saved: dict[str, str | None] = {}

    def __enter__(self) -> DurableRuntime:
        # The handler's checkpoints (in this process) go to the front too, and the service's Invoke client
        # signs its calls; the SDK keeps its client, so it is made again.
        env = {"AWS_ENDPOINT_URL_LAMBDA": self.front.url}
        for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
            env[name] = os.environ.get(name) or "local"
        self._saved = {name: os.environ.get(name) for name in env}
        os.environ.update(env)
        LambdaClient._cached_boto_client = None
        threading.Thread(target=self._endpoint.serve_forever, daemon=True).start()
        self.service.start()
        self.front.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        for name, value in self._saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        LambdaClient._cached_boto_client = None
        self.front.stop()
        self.service.stop()
        self._endpoint.shutdown()

    def client(self) -> Any:
        return boto3.client(
            "lambda",
            endpoint_url=self.front.url,
            region_name=REGION,
            aws_access_key_id="local",
            aws_secret_access_key="local",
        )

    def executions(self) -> LambdaDurableExecutions:
        return LambdaDurableExecutions(self.client(), RUNNER_ARN)

    def wait(self, execution_arn: str, timeout: float = 60) -> dict:
        """The execution once it has ended."""
        client = self.client()
        deadline = time.monotonic() + timeout
        while True:
            found = client.get_durable_execution(DurableExecutionArn=execution_arn)
            if found["Status"] != "RUNNING":
                return found
            assert time.monotonic() < deadline, f"execution {execution_arn} still running"
            time.sleep(0.05)

    def run(self, tenant: str, task_id: str, timeout: float = 60) -> dict:
        return self.wait(self.executions().start(tenant, task_id), timeout)
