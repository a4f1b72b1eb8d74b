"""The embedded AWS: a moto server on loopback with the table, queues and bucket of the stack.

Importing it patches moto in this process (infra.local.workarounds, infra.local.fair_queues): the server's
process, and the tests' in-process moto, which import the resources' names from here for that reason. The
resources themselves are infra.local.resources'."""

from __future__ import annotations

import gc
import logging
import sys
from typing import Any

import boto3
from moto.server import ThreadedMotoServer

from infra.local.child import Child, ready
from infra.local.fair_queues import fair_receives
from infra.local.resources import CREDENTIALS, REGION, Resources, provision
from infra.local.workarounds import (
    cheap_sqs_retention_check,
    cheap_sqs_sends,
    counts_by_walking,
    moto_modules_listed_once,
    plain_json_answers,
    serialize_dynamodb,
    transactions_in_place,
)

serialize_dynamodb()
plain_json_answers()
counts_by_walking()
transactions_in_place()
cheap_sqs_retention_check()
cheap_sqs_sends()
fair_receives()
moto_modules_listed_once()


class Emulator:
    def __init__(self, port: int = 0) -> None:
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        self.endpoint = ""

    def start(self) -> str:
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.endpoint = f"http://{host}:{port}"
        return self.endpoint

    def stop(self) -> None:
        self._server.stop()

    def client(self, service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=self.endpoint,
            region_name=REGION,
            aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        )

    def create_resources(self, prefix: str = "asyncinfer-dev") -> Resources:
        return provision(self.client, prefix, self.endpoint)


class EmulatorProcess(Emulator):
    """The emulator in a process of its own, as AWS's services are not in the functions' processes: the
    emulator's work and the functions' work each get a core (and a GIL of their own)."""

    def __init__(self, port: int = 0) -> None:
        self._child = Child("infra.local.emulator", str(port))
        self.endpoint = ""

    def start(self) -> str:
        self.endpoint = self._child.start()
        return self.endpoint

    def stop(self) -> None:
        self._child.stop(timeout=10)


def _keep_survivors(phase: str, info: dict[str, int]) -> None:
    """The emulator's heap is the tables' items, and it only grows: each full collection walks all of it
    (tens of milliseconds, every few seconds, the whole emulator stopped meanwhile). What survived one is
    set aside for the next ones; items deleted later are still freed by their reference counts."""
    if phase == "stop" and info["generation"] == 2:
        gc.freeze()


def _serve(port: int) -> None:
    """`python -m infra.local.emulator [PORT]`: serve until the stack stops it."""
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(levelname)s %(name)s %(message)s")
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    gc.callbacks.append(_keep_survivors)
    # Each request is a thread: hand the interpreter over more often, so that a short call (a send, a
    # read) is not held up 5 ms at a time behind each longer one (a transaction, a page of the stream).
    sys.setswitchinterval(0.0005)
    emulator = Emulator(port)
    try:
        ready(emulator.start())
    finally:
        emulator.stop()


if __name__ == "__main__":
    _serve(int(sys.argv[1]) if len(sys.argv) > 1 else 0)
