"""Starts and stops the whole local stack: emulator, resources, dev key, pollers, dev server."""

from __future__ import annotations

import json
import logging
import os
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path

import uvicorn

from asyncinfer.cli import LOCAL_STACK_FILE
from asyncinfer.store.dynamodb import DynamoTaskStore
from asyncinfer.tasks.keys import create_key
from infra.local import defaults, durable
from infra.local.defaults import LOCAL_DEFAULTS
from infra.local.devserver import build_app
from infra.local.durable import LocalRunner
from infra.local.emulator import REGION, WORKER_TIMEOUT_SECONDS, Emulator, Resources
from infra.local.functions import LocalFunctions
from infra.local.poller import BATCH_SIZE, Poller
from infra.local.schedule import Every
from infra.local.streams import StreamPoller
from infra.local.video_jobs import DemoVideoJobs

DEV_TENANT = "dev"
ROOT = Path(__file__).resolve().parents[2]

SWEEP_SECONDS = 30
# Batch items have their own poller (their own event source mapping and concurrency on AWS).
BATCH_ITEM_POLLERS = 1
LOCAL_TIMEOUTS = {"worker": WORKER_TIMEOUT_SECONDS, "batch": 300, "notifier": 60, "webhook_sender": 30}


def event_sources(
    emulator: Emulator, resources: Resources, functions: LocalFunctions, worker_pollers: int
) -> list[Poller | StreamPoller | Every]:
    """What invokes the functions on AWS: the queues' and the table stream's event sources, the schedule."""
    sqs = emulator.client("sqs")
    return [
        Poller(sqs, resources.queue_url, resources.queue_arn, functions, "worker", worker_pollers),
        # Batch items: the same worker, from their own queue, with a concurrency of their own (as on AWS).
        Poller(
            sqs,
            resources.batch_items_queue_url,
            resources.batch_items_queue_arn,
            functions,
            "worker",
            BATCH_ITEM_POLLERS,
        ),
        Poller(sqs, resources.dlq_url, resources.dlq_arn, functions, "dead_letter", 1),
        Poller(sqs, resources.webhook_dlq_url, resources.webhook_dlq_arn, functions, "dead_letter", 1),
        Poller(sqs, resources.webhook_queue_url, resources.webhook_queue_arn, functions, "webhook_sender", 2),
        Poller(sqs, resources.batch_queue_url, resources.batch_queue_arn, functions, "batch", 1),
        StreamPoller(emulator.client("dynamodbstreams"), resources.stream_arn, functions, "notifier"),
        Every(SWEEP_SECONDS, functions, "sweeper", "sweeper_schedule.json"),
    ]


@dataclass(frozen=True)
class StackOptions:
    port: int
    dev_key: str | None
    emulator_port: int
    worker_pollers: int

    @classmethod
    def from_env(cls) -> StackOptions:
        return cls(
            port=int(os.environ.get("ASYNCINFER_PORT", "8000")),
            dev_key=os.environ.get("ASYNCINFER_DEV_KEY") or None,
            emulator_port=int(os.environ.get("ASYNCINFER_EMULATOR_PORT", "0")),
            worker_pollers=int(os.environ.get("ASYNCINFER_WORKER_POLLERS", "2")),
        )


class _Server(uvicorn.Server):
    """Says "ready" only once the socket is listening."""

    ready_message = ""

    async def startup(self, sockets=None) -> None:  # type: ignore[no-untyped-def]
        await super().startup(sockets)
        if not self.should_exit:
            print(self.ready_message, flush=True)


def run(options: StackOptions) -> None:
    defaults.apply()
    # Every "function" shares this process (and its GIL): hand the interpreter over more often, so one
    # busy function (a batch's items) delays the others' short steps by less than the default 5 ms a time.
    sys.setswitchinterval(0.0005)
    emulator = Emulator(options.emulator_port)
    emulator.start()
    resources: Resources = emulator.create_resources()
    os.environ.update(resources.env())
    # Videos: the demo video model's jobs go to an offline stand-in for Bedrock's async invocations.
    videos = DemoVideoJobs(emulator.client("s3"), float(os.environ.get("ASYNCINFER_DEMO_VIDEO_SECONDS", "90")))
    videos.start_serving()
    os.environ["ASYNCINFER_DEMO_VIDEO_JOBS_URL"] = videos.url
    # Long tasks: the runner (a durable function on AWS) under the testing SDK's local durable service.
    runner = LocalRunner(durable.invocation_timeout(), REGION)
    runner.start(dict(os.environ))
    os.environ.update(runner.env())

    key = create_key(DynamoTaskStore(emulator.client("dynamodb"), resources.table_name), DEV_TENANT, options.dev_key)

    # `asyncinfer schedule run NAME` runs the batch handler against this stack with these settings.
    stack_file = ROOT / os.environ.get("ASYNCINFER_STACK_FILE", LOCAL_STACK_FILE)
    stack_file.parent.mkdir(exist_ok=True)
    stack_file.write_text(json.dumps({**LOCAL_DEFAULTS, **resources.env(), **runner.env()}, indent=2))

    # On AWS each worker instance runs its batch in threads of its own; here the instances (pollers) share
    # one process, so the pool holds a batch for each of them, and a batch of items never waits on another.
    os.environ.setdefault("ASYNCINFER_CONCURRENCY", str(BATCH_SIZE * (options.worker_pollers + BATCH_ITEM_POLLERS)))
    functions = LocalFunctions(timeouts=LOCAL_TIMEOUTS)
    pollers = event_sources(emulator, resources, functions, options.worker_pollers)
    for poller in pollers:
        poller.start()

    url = f"http://127.0.0.1:{options.port}"
    print("asyncinfer local stack (no AWS account, no Docker; data lives until you stop it)")
    print(f"  API       {url}")
    print(f"  docs      {url}/docs   (OpenAPI: {url}/openapi.json)")
    print(f"  API key   {key}   (tenant {DEV_TENANT!r})")
    print(f"  emulator  {resources.endpoint}   (DynamoDB, SQS, S3)")
    print(f"  durable   {runner.front.url}   (long tasks; {runner.invocation_timeout} s per runner invocation)")
    print(
        f"  more keys AWS_ENDPOINT_URL={resources.endpoint} .venv/bin/asyncinfer keys create "
        f"--table {resources.table_name} --tenant NAME"
    )
    print("  schedules .venv/bin/asyncinfer schedule run nightly-summaries   (schedules.json)")
    print(f"  try it    curl -s {url}/v1/async -H 'Authorization: Bearer {key}'", flush=True)
    server = _Server(
        uvicorn.Config(build_app(functions), host="127.0.0.1", port=options.port, log_level="warning", lifespan="off")
    )
    server.ready_message = f"asyncinfer ready on {url} (Ctrl-C stops everything)"
    try:
        server.run()
    except KeyboardInterrupt:
        pass  # uvicorn re-raises the Ctrl-C it already handled; stopping is the normal way out
    finally:
        for poller in pollers:
            poller.stop()
        runner.stop()
        videos.stop()
        emulator.stop()
        stack_file.unlink(missing_ok=True)
        print("asyncinfer stopped", flush=True)


def main() -> int:
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(levelname)s %(name)s %(message)s")
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", message="No application metrics to publish")
    run(StackOptions.from_env())
    return 0
