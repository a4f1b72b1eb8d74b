"""One class's workers in a process of their own (`python -m infra.local.lane QUEUE_URL QUEUE_ARN
POLLERS`). On AWS each lane's workers are Lambda instances of their own; in the stack's one process a
flex backlog's work would take the CPU (and the GIL) that the API and the other lanes start their tasks
with, which no deployment shares."""

from __future__ import annotations

import os
import sys

from infra.local import defaults

defaults.apply()  # before the handlers' modules are imported (Powertools reads its settings then)

import boto3  # noqa: E402

from infra.local.child import Child, ready  # noqa: E402
from infra.local.functions import LocalFunctions  # noqa: E402
from infra.local.poller import BATCH_SIZE, Poller  # noqa: E402
from infra.local.quiet import console_logging  # noqa: E402
from infra.local.resources import WORKER_TIMEOUT_SECONDS  # noqa: E402

LANE_NICENESS = 10


class Lane:
    """The worker's event source for one queue, started as a process of its own."""

    def __init__(self, queue_url: str, queue_arn: str, pollers: int) -> None:
        self._args = (queue_url, queue_arn, str(pollers))
        self._concurrency = str(BATCH_SIZE * pollers)
        self._child: Child | None = None

    def start(self) -> None:
        env = {**os.environ, "ASYNCINFER_CONCURRENCY": self._concurrency}
        self._child = Child("infra.local.lane", *self._args, env=env)
        self._child.start()

    def stop(self) -> None:
        if self._child is not None:
            self._child.stop(timeout=WORKER_TIMEOUT_SECONDS)


def main(queue_url: str, queue_arn: str, pollers: str) -> None:
    # The lane yields the CPU to the stack's process: on AWS its instances have CPUs of their own, and here a
    # backlog's bursts (a batch's claims and endings at once) would otherwise delay the API's answers and
    # the other lanes' starts by the tens of milliseconds the priority class is measured in.
    os.nice(LANE_NICENESS)
    console_logging()
    functions = LocalFunctions(timeouts={"worker": WORKER_TIMEOUT_SECONDS})
    poller = Poller(boto3.client("sqs"), queue_url, queue_arn, functions, "worker", int(pollers))
    poller.start()
    try:
        ready(f"lane {queue_url}")
    finally:
        functions.stop()  # an invocation under way takes no more messages: the lane stops within a task
        poller.stop()


if __name__ == "__main__":
    main(*sys.argv[1:4])
