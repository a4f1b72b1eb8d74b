"""Starts and stops the whole local stack: emulator, resources, dev key, pollers, dev server."""

from __future__ import annotations

import contextlib
import errno
import gc
import json
import os
import signal
import socket
import sys
from dataclasses import dataclass
from pathlib import Path

import boto3
import botocore.session
import uvicorn
from botocore.config import Config

from asyncinfer.ops.local_stack import LOCAL_STACK_FILE, STACK_PID, STACK_URL, NoLocalStack, local_stack
from asyncinfer.ops.trace_view import TRACES_FILE
from asyncinfer.store.dynamodb import DynamoTaskStore
from asyncinfer.tasks.keys import create_key
from infra.local import defaults, durable
from infra.local.batch_jobs import DemoBatchJobs
from infra.local.defaults import LOCAL_DEFAULTS
from infra.local.devserver import build_app
from infra.local.durable import LocalRunner
from infra.local.emulator import Emulator, EmulatorProcess
from infra.local.functions import LocalFunctions
from infra.local.lane import Lane
from infra.local.poller import BATCH_SIZE, Poller
from infra.local.quiet import console_logging
from infra.local.resources import REGION, WORKER_TIMEOUT_SECONDS, Resources
from infra.local.schedule import Every
from infra.local.streams import StreamPoller
from infra.local.video_jobs import DemoVideoJobs

DEV_TENANT = "dev"
ROOT = Path(__file__).resolve().parents[2]

SWEEP_SECONDS = 30
# Deadlines are looked at more often than orphans (on AWS: every minute, and orphans every few).
DEADLINE_SWEEP_SECONDS = 5
# Batch items have their own poller (their own event source mapping and concurrency on AWS), and so has
# each class's lane: the priority class as many as the default one, flex one (weighted shares, as on AWS).
BATCH_ITEM_POLLERS = 1
# ASYNCINFER_BATCH_ITEM_CONCURRENCY=n: the batch-items lane runs n items at a time (n pollers of one message each),
# as MaximumConcurrency bounds its event source mapping on AWS.
BATCH_ITEM_CONCURRENCY = "ASYNCINFER_BATCH_ITEM_CONCURRENCY"
FLEX_POLLERS = 1
LOCAL_TIMEOUTS = {"worker": WORKER_TIMEOUT_SECONDS, "batch": 300, "notifier": 60, "webhook_sender": 30}


def batch_item_lane() -> tuple[int, int]:
    """The batch-items lane's pollers and the messages each receives at once."""
    concurrency = os.environ.get(BATCH_ITEM_CONCURRENCY)
    if not concurrency:
        return BATCH_ITEM_POLLERS, BATCH_SIZE
    if not concurrency.isdigit() or int(concurrency) < 1:
        raise SystemExit(f"{BATCH_ITEM_CONCURRENCY} must be a whole number of items, at least 1; got {concurrency!r}")
    return int(concurrency), 1


def event_sources(
    emulator: Emulator, resources: Resources, functions: LocalFunctions, worker_pollers: int
) -> list[Poller | Lane | StreamPoller | Every]:
    """What invokes the functions on AWS: the queues' and the table stream's event sources, the schedule."""
    sqs = emulator.client("sqs")
    item_pollers, item_batch = batch_item_lane()
    return [
        Poller(sqs, resources.queue_url, resources.queue_arn, functions, "worker", worker_pollers),
        Poller(sqs, resources.priority_queue_url, resources.priority_queue_arn, functions, "worker", worker_pollers),
        # The flex lane's workers in a process of their own (separate instances, as on AWS).
        Lane(resources.flex_queue_url, resources.flex_queue_arn, FLEX_POLLERS),
        # Batch items: the same worker, from their own queue, with a concurrency of their own (as on AWS).
        Poller(
            sqs,
            resources.batch_items_queue_url,
            resources.batch_items_queue_arn,
            functions,
            "worker",
            item_pollers,
            item_batch,
        ),
        Poller(sqs, resources.dlq_url, resources.dlq_arn, functions, "dead_letter", 1),
        Poller(sqs, resources.webhook_dlq_url, resources.webhook_dlq_arn, functions, "dead_letter", 1),
        Poller(sqs, resources.webhook_queue_url, resources.webhook_queue_arn, functions, "webhook_sender", 2),
        Poller(sqs, resources.batch_queue_url, resources.batch_queue_arn, functions, "batch", 1),
        StreamPoller(emulator.client("dynamodbstreams"), resources.stream_arn, functions, "notifier"),
        Every(SWEEP_SECONDS, functions, "sweeper", "sweeper_schedule.json"),
        Every(DEADLINE_SWEEP_SECONDS, functions, "sweeper", "sweeper_deadlines.json"),
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


class PortTaken(Exception):
    """The stack's port is in use; the message says by what."""


def listen(port: int, stack_file: Path) -> socket.socket:
    """The API's listening socket, taken before anything else starts: a second stack on a busy port stops
    here, having written, printed and deleted nothing."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does: a restart reuses the port
    try:
        sock.bind(("127.0.0.1", port))
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        if exc.errno != errno.EADDRINUSE:
            raise PortTaken(f"cannot listen on 127.0.0.1:{port}: {exc.strerror}") from exc
        raise PortTaken(_taken_by(port, stack_file)) from exc
    return sock


def _taken_by(port: int, stack_file: Path) -> str:
    url = f"http://127.0.0.1:{port}"
    try:
        running = local_stack(stack_file)
    except NoLocalStack:
        running = {}
    if running.get(STACK_URL) == url:
        return (
            f"a local stack is already running at {url} (pid {running.get(STACK_PID)}); "
            "stop it first (Ctrl-C in its terminal), or start another one with ASYNCINFER_PORT=<port>"
        )
    return (
        f"port {port} on 127.0.0.1 is in use by another program; "
        "start the stack on another one with ASYNCINFER_PORT=<port>"
    )


def _write_stack_file(path: Path, settings: dict[str, str]) -> None:
    """Whole or not at all: `asyncinfer` never reads half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}")
    partial.write_text(json.dumps(settings, indent=2))
    partial.replace(path)


def _remove_stack_file(path: Path) -> None:
    """Only this stack's: another stack may have written the file since (with a settings file of its own)."""
    try:
        ours = json.loads(path.read_text()).get(STACK_PID) in (None, str(os.getpid()))
    except (OSError, ValueError, AttributeError):
        ours = True  # gone or unreadable: nobody else's either
    if ours:
        path.unlink(missing_ok=True)


def _stop_as_ctrl_c(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def worker_threads(options: StackOptions) -> int:
    """The worker's threads in this process: on AWS each worker instance runs its batch in threads of its
    own; here the instances (pollers) share one process, so the pool holds a batch for each of them, and a
    batch of items never waits on another."""
    pollers, size = batch_item_lane()
    return BATCH_SIZE * 2 * options.worker_pollers + pollers * size


def pool_connections(threads: int) -> None:
    """A connection for each thread that may call an AWS client at once, as on AWS: a worker instance runs
    `concurrency` (10) threads, and botocore's pool keeps 10 connections. The clients here are shared by
    the worker's threads of every instance (50); with the default pool each call past the tenth discarded
    its connection, with a warning ("Connection pool is full": 49 to 62 lines for 40 chat tasks). The default
    session's client config: every client of this process (boto3.client) is made with it."""
    session = botocore.session.get_session()
    session.set_default_client_config(Config(max_pool_connections=max(threads, 10)))
    boto3.setup_default_session(botocore_session=session)


def run(options: StackOptions) -> int:
    defaults.apply()
    # `kill PID` (a process manager, a closed terminal's SIGTERM) stops the stack as Ctrl-C does: everything it
    # started is stopped and its settings file removed. uvicorn takes the signal while it serves, shuts
    # down, then raises it again (here, on this handler).
    signal.signal(signal.SIGTERM, _stop_as_ctrl_c)
    stack_file = ROOT / os.environ.get("ASYNCINFER_STACK_FILE", LOCAL_STACK_FILE)
    url = f"http://127.0.0.1:{options.port}"
    try:
        listener = listen(options.port, stack_file)
    except PortTaken as exc:
        print(f"asyncinfer: {exc}", file=sys.stderr, flush=True)
        return 1
    with contextlib.ExitStack() as started:
        started.callback(print, "asyncinfer stopped", flush=True)
        started.callback(listener.close)
        # Ctrl-C or SIGTERM, while starting or serving: stopping is the normal way out.
        with contextlib.suppress(KeyboardInterrupt):
            serve(options, url, listener, stack_file, started)
    return 0


def serve(
    options: StackOptions, url: str, listener: socket.socket, stack_file: Path, started: contextlib.ExitStack
) -> None:
    """Start every part (each one stopped by `started` when the stack stops), then serve until stopped."""
    # Every "function" shares this process (and its GIL): hand the interpreter over more often, so one
    # busy function (a batch's items) delays the others' short steps by less than the default 5 ms a time.
    sys.setswitchinterval(0.0005)
    threads = int(os.environ.get("ASYNCINFER_CONCURRENCY") or worker_threads(options))
    pool_connections(threads)
    # Spans: every process of the stack (this one, the flex lane's, the runner's instance) appends to one file,
    # which `asyncinfer trace` reads; like the emulator's data, it lasts as long as the stack.
    traces = stack_file.with_name(f"{stack_file.stem}.traces.jsonl")
    traces.parent.mkdir(parents=True, exist_ok=True)
    traces.write_text("")
    started.callback(traces.unlink, missing_ok=True)
    os.environ[TRACES_FILE] = str(traces)
    emulator = EmulatorProcess(options.emulator_port)
    emulator.start()
    started.callback(emulator.stop)
    resources: Resources = emulator.create_resources()
    os.environ.update(resources.env())
    # Videos: the demo video model's jobs go to an offline stand-in for Bedrock's async invocations.
    videos = DemoVideoJobs(emulator.client("s3"), float(os.environ.get("ASYNCINFER_DEMO_VIDEO_SECONDS", "90")))
    videos.start_serving()
    started.callback(videos.stop)
    os.environ["ASYNCINFER_DEMO_VIDEO_JOBS_URL"] = videos.url
    # Provider batch jobs: the demo batch models' jobs go to offline stand-ins of Bedrock's and OpenAI's batch APIs.
    batch_seconds = float(os.environ.get("ASYNCINFER_DEMO_BATCH_SECONDS", "30"))
    provider_batches = DemoBatchJobs(emulator.client("s3"), batch_seconds)
    provider_batches.start_serving()
    started.callback(provider_batches.stop_serving)
    os.environ["ASYNCINFER_DEMO_BATCH_JOBS_URL"] = provider_batches.url
    # complete_by's estimates (the runner's too): the default lane runs a batch of messages per poller, each in a
    # thread of its own, and due times are looked at every DEADLINE_SWEEP_SECONDS.
    os.environ.setdefault("ASYNCINFER_DEFAULT_LANE_SLOTS", str(options.worker_pollers * min(BATCH_SIZE, threads)))
    os.environ.setdefault("ASYNCINFER_ESCALATION_SWEEP_SECONDS", str(DEADLINE_SWEEP_SECONDS))
    # Long tasks: the runner (a durable function on AWS) under the testing SDK's local durable service.
    runner = LocalRunner(durable.invocation_timeout(), REGION)
    started.callback(runner.stop)
    runner.start(dict(os.environ))
    os.environ.update(runner.env())

    key = create_key(DynamoTaskStore(emulator.client("dynamodb"), resources.table_name), DEV_TENANT, options.dev_key)

    # `asyncinfer schedule run NAME` runs the batch handler against this stack with these settings; the
    # stack's pid and URL tell it (and a second `make dev`) whether the stack still runs.
    settings = {**LOCAL_DEFAULTS, **resources.env(), **runner.env(), STACK_PID: str(os.getpid()), STACK_URL: url}
    settings["ASYNCINFER_DEMO_BATCH_JOBS_URL"] = provider_batches.url  # (its `GET /_jobs` counts the jobs made)
    settings[TRACES_FILE] = str(traces)
    _write_stack_file(stack_file, settings)
    started.callback(_remove_stack_file, stack_file)

    os.environ["ASYNCINFER_CONCURRENCY"] = str(threads)
    # Each worker invocation runs its poller's batch of messages at most (its slots): the lanes keep their
    # capacities. The batch-items lane held to n items runs one a poller.
    if BATCH_ITEM_CONCURRENCY in os.environ:
        os.environ["ASYNCINFER_WORKER_QUEUE_SLOTS"] = json.dumps(
            {resources.batch_items_queue_arn: batch_item_lane()[1]}
        )
    functions = LocalFunctions(timeouts=LOCAL_TIMEOUTS)
    for poller in event_sources(emulator, resources, functions, options.worker_pollers):
        poller.start()
        started.callback(poller.stop)
    # First on the way out: a worker invocation would otherwise keep taking messages for half its timeout.
    started.callback(functions.stop)

    print("asyncinfer local stack (no AWS account, no Docker; data lives until you stop it)")
    print(f"  API       {url}")
    print(f"  docs      {url}/docs   (OpenAPI: {url}/openapi.json)")
    print(f"  API key   {key}   (tenant {DEV_TENANT!r})")
    print(f"  emulator  {resources.endpoint}   (DynamoDB, SQS, S3)")
    print(f"  durable   {runner.front.url}   (long tasks; {runner.invocation_timeout} s per runner invocation)")
    print("  more keys .venv/bin/asyncinfer keys create --tenant NAME")
    print("  schedules .venv/bin/asyncinfer schedule run nightly-summaries   (schedules.json)")
    print(f"  try it    curl -s {url}/v1/async -H 'Authorization: Bearer {key}'", flush=True)
    server = _Server(
        uvicorn.Config(build_app(functions), host="127.0.0.1", port=options.port, log_level="warning", lifespan="off")
    )
    server.ready_message = f"asyncinfer ready on {url} (Ctrl-C stops everything)"
    gc.freeze()
    # uvicorn re-raises the Ctrl-C (or SIGTERM) it already handled: the caller takes it as the way out.
    server.run(sockets=[listener])


def main() -> int:
    console_logging()
    return run(StackOptions.from_env())
