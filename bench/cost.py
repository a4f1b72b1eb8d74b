"""(a) Cost per million tasks: the billable AWS requests of each phase of a task's life, counted from the
real botocore calls of a local run (dev gateway, handlers and event-source poller on the emulator),
priced with bench/prices.py; beside it the floor the design needs and a Step Functions-per-task design."""

from __future__ import annotations

import json
import math
import os
from collections import Counter, defaultdict
from contextlib import ExitStack
from typing import Any

import boto3
from moto import mock_aws
from starlette.testclient import TestClient

from asyncinfer.observability import logger
from asyncinfer.store.dynamodb import DynamoTaskStore
from asyncinfer.store.schema import INFLIGHT_ATTRIBUTE
from asyncinfer.tasks.keys import create_key
from bench.common import SMOKE, CallLog, Row, TaggedFunctions, phase
from bench.prices import PRICES, PRICES_DATED, READ_UNIT_BYTES, WRITE_UNIT_BYTES
from infra.config import InfraConfig
from infra.local.devserver import build_app
from infra.local.emulator import provision
from infra.local.poller import Poller

TARGET_PER_MILLION = 12.0
TARGET_FLOOR_RATIO = 1.3
PHASES = ("submit", "process", "poll", "list")
BODY = {"model": "demo-chat", "messages": [{"role": "user", "content": "What does a task cost?"}]}
# Lambda memory as deployed (infra/components): API functions and authorizer 512 MB, worker 1024 MB.
MEMORY_GB = {"worker": 1.0}
DEFAULT_MEMORY_GB = 0.5
# The emulator answers in microseconds; on AWS each call waits this long (typical in-region figures),
# which the calling function is billed for.
AWS_LATENCY_SECONDS = {"dynamodb": 0.006, "sqs": 0.010, "s3": 0.020}
ENV = {
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "POWERTOOLS_METRICS_DISABLED": "true",
    "POWERTOOLS_LOG_LEVEL": "ERROR",
    "ASYNCINFER_DEMO_CHAT_SECONDS": "0",
    # One task at a time: the in-process emulator is not thread-safe, and the calls are the same.
    "ASYNCINFER_CONCURRENCY": "1",
}


def attribute_bytes(name: str, value: dict[str, Any]) -> int:
    ((kind, raw),) = value.items()
    if kind == "S":
        size = len(raw.encode())
    elif kind == "N":
        size = len(str(raw)) // 2 + 1
    elif kind == "B":
        size = len(raw)
    elif kind in ("BOOL", "NULL"):
        size = 1
    elif kind == "L":
        size = 3 + sum(attribute_bytes("", v) + 1 for v in raw)
    elif kind == "M":
        size = 3 + sum(attribute_bytes(k, v) + 1 for k, v in raw.items())
    else:  # SS, NS, BS
        size = sum(len(str(v)) for v in raw)
    return len(name.encode()) + size


def item_bytes(item: dict[str, Any] | None) -> int:
    return sum(attribute_bytes(k, v) for k, v in (item or {}).items())


def write_units(item: dict[str, Any] | None) -> int:
    return max(1, math.ceil(item_bytes(item) / WRITE_UNIT_BYTES))


def read_units(total_bytes: int, consistent: bool) -> float:
    units = max(1, math.ceil(total_bytes / READ_UNIT_BYTES))
    return units if consistent else units / 2


def dynamodb_units(operation: str, params: dict[str, Any], response: dict[str, Any]) -> tuple[float, float]:
    """(write units, read units) of one call, by DynamoDB's on-demand billing rules."""
    if operation == "GetItem":
        return 0, read_units(item_bytes(response.get("Item")), bool(params.get("ConsistentRead")))
    if operation in ("Query", "Scan"):
        items = response.get("Items")
        # Select=COUNT returns no items: what was read is Count keys-only index entries (~100 bytes).
        size = sum(item_bytes(i) for i in items) if items is not None else 100 * response.get("Count", 0)
        return 0, read_units(size, bool(params.get("ConsistentRead")))
    if operation == "PutItem":
        item = params["Item"]
        return write_units(item) + (INFLIGHT_ATTRIBUTE in item), 0
    if operation == "UpdateItem":
        units = write_units(response.get("Attributes")) if response.get("Attributes") else 1
        names = set((params.get("ExpressionAttributeNames") or {}).values())
        return units + (INFLIGHT_ATTRIBUTE in names), 0
    if operation == "DeleteItem":
        return 1, 0
    if operation == "TransactWriteItems":
        units = 0
        for action in params["TransactItems"]:
            ((kind, body),) = action.items()
            units += 2 * (write_units(body.get("Item")) if kind == "Put" else 1)
            units += kind == "Put" and INFLIGHT_ATTRIBUTE in body.get("Item", {})
        return units, 0
    return 0, 0


def price_calls(calls, tasks: int, invocations) -> dict[str, dict[str, float]]:
    """USD per million tasks by phase and by service, from the recorded calls and invocations."""
    by: dict[str, Counter[str]] = defaultdict(Counter)
    aws_seconds: Counter[tuple[str, str]] = Counter()
    local_seconds: Counter[tuple[str, str]] = Counter()
    for call in calls:
        if call.phase not in PHASES:
            continue
        if call.service == "dynamodb":
            wru, rru = dynamodb_units(call.operation, call.params, call.response)
            cost = wru * PRICES["dynamodb_write_request_unit"] + rru * PRICES["dynamodb_read_request_unit"]
        elif call.service == "sqs":
            if call.operation == "ReceiveMessage" and not call.response.get("Messages"):
                continue  # an empty poll: the event source's long polling, not a task's
            cost = PRICES["sqs_request"]
        elif call.service == "s3":
            cost = PRICES["s3_get_request" if call.operation == "GetObject" else "s3_put_request"]
        else:
            cost = 0.0
        by[call.phase][call.service] += cost
        aws_seconds[(call.phase, call.function)] += AWS_LATENCY_SECONDS.get(call.service, 0.01)
        local_seconds[(call.phase, call.function)] += call.seconds
    for phase_name, function, _ in invocations:
        if phase_name not in PHASES:
            continue
        by[phase_name]["lambda"] += PRICES["lambda_request"]
        if function.startswith("api_"):
            by[phase_name]["apigateway"] += PRICES["apigateway_rest_request"]
    for (phase_name, function), elapsed in _function_seconds(invocations).items():
        billed = max(0.0, elapsed - local_seconds[(phase_name, function)]) + aws_seconds[(phase_name, function)]
        by[phase_name]["lambda"] += billed * MEMORY_GB.get(function, DEFAULT_MEMORY_GB) * PRICES["lambda_arm_gb_second"]
    return {p: {s: v / tasks * 1e6 for s, v in by[p].items()} for p in PHASES}


def _function_seconds(invocations) -> Counter[tuple[str, str]]:
    seconds: Counter[tuple[str, str]] = Counter()
    for phase_name, function, elapsed in invocations:
        seconds[(phase_name, function)] += elapsed
    return seconds


def floor_purpose(call) -> str | None:
    """Which of the floor's DynamoDB requests a call is, or None for one beyond it."""
    names = set((call.params.get("ExpressionAttributeNames") or {}).values())
    if call.function == "authorizer" or call.params.get("IndexName"):
        return None  # the authorizer (cached on AWS) and the in-flight count
    if call.phase == "submit" and call.operation == "PutItem":
        return "task written"
    if call.phase == "process":
        if call.operation == "GetItem":
            return "task read by the worker"
        if call.operation == "PutItem":
            return "event-log batch"
        if call.operation == "UpdateItem" and "started_at" in names:
            return "claim"
        if call.operation == "UpdateItem" and "completed_at" in names:
            return "COMPLETED"
    if call.phase == "poll" and call.operation == "GetItem":
        return "poll"
    if call.phase == "list" and call.operation == "Query":
        return "list page"
    return None


def floor_per_million(calls, tasks: int, measured: dict[str, dict[str, float]]) -> float:
    """The fewest billable requests the design needs per task, priced at the item sizes of this run:
    three API calls (submit, poll, list) and their function time; a tenth of a worker invocation
    (batches of 10); one SendMessage, a tenth of a receive and of a delete; DynamoDB: the task written,
    read and claimed by the worker, one event-log batch, marked COMPLETED (no index writes), read by the
    poll, one list page. Beyond it: the authorizer, the quota reads and writes, the in-flight index and
    the lease/sequence compare-and-set before each event-log batch."""
    p = PRICES
    dynamodb = 0.0
    for call in calls:
        if call.service != "dynamodb" or floor_purpose(call) is None:
            continue
        wru, rru = dynamodb_units(call.operation, call.params, call.response)
        if call.operation in ("PutItem", "UpdateItem"):
            wru = write_units(call.params.get("Item") or call.response.get("Attributes"))  # no index write
        dynamodb += wru * p["dynamodb_write_request_unit"] + rru * p["dynamodb_read_request_unit"]
    lambda_measured = sum(measured[ph].get("lambda", 0) for ph in PHASES) / 1e6
    fixed = 3 * p["apigateway_rest_request"] + 1.2 * p["sqs_request"] + lambda_measured
    return (fixed + dynamodb / tasks) * 1e6


def step_functions_per_million(measured: dict[str, dict[str, float]]) -> float:
    """A Standard workflow per task: API Gateway starts it and describes it (direct integrations) and a
    function lists; the workflow enters 4 states (claim-free: start, invoke the model function, store
    the result, succeed), the model function runs once per task (no batching), the result is put once
    and the list reads a page."""
    p = PRICES
    return (
        3 * p["apigateway_rest_request"]
        + 4 * p["stepfunctions_standard_transition"]
        + 2 * p["lambda_request"]
        + measured["list"].get("lambda", 0) / 1e6
        + p["dynamodb_write_request_unit"]
        + p["dynamodb_read_request_unit"]
    ) * 1e6


def run(tasks: int | None = None) -> Row:
    tasks = tasks or (20 if SMOKE else 200)
    deployed = InfraConfig()  # the quotas as cdk.json's defaults deploy them
    ENV["ASYNCINFER_SUBMITS_PER_WINDOW"] = str(deployed.submits_per_minute)
    ENV["ASYNCINFER_MAX_INFLIGHT_TASKS"] = str(deployed.max_inflight_tasks)
    logger.setLevel("ERROR")
    with ExitStack() as stack:
        saved = {k: os.environ.get(k) for k in ENV}
        os.environ.update(ENV)
        stack.callback(
            lambda: [os.environ.pop(k, None) if v is None else os.environ.__setitem__(k, v) for k, v in saved.items()]
        )
        os.environ.pop("AWS_ENDPOINT_URL", None)
        stack.enter_context(mock_aws())
        boto3.setup_default_session()
        log = CallLog()
        log.install()  # before any client exists: a client copies the session's hooks when made
        ddb, sqs = boto3.client("dynamodb"), boto3.client("sqs")
        resources = provision(boto3.client, "bench")
        for name, value in resources.env().items():
            os.environ[name] = value
        _clear_handler_caches()
        stack.callback(_clear_handler_caches)
        key = create_key(DynamoTaskStore(ddb, resources.table_name), "bench")
        functions = TaggedFunctions()
        client = stack.enter_context(TestClient(build_app(functions), headers={"Authorization": f"Bearer {key}"}))
        poller = Poller(sqs, resources.queue_url, resources.queue_arn, functions, "worker")
        with phase("submit"):
            ids = [client.post("/v1/async", json=BODY).json()["id"] for _ in range(tasks)]
        with phase("process"):
            while poller.poll_once():
                pass
        with phase("poll"):
            statuses = Counter(client.get(f"/v1/async/{task_id}").json()["status"] for task_id in ids)
        with phase("list"):
            for _ in range(tasks):
                client.get("/v1/async", params={"limit": "20"})
        assert statuses == Counter({"COMPLETED": tasks}), statuses
        measured = price_calls(log.calls, tasks, functions.invocations)
        calls = {ph: log.counts(ph) for ph in PHASES}

    total = sum(sum(services.values()) for services in measured.values())
    floor = floor_per_million(log.calls, tasks, measured)
    sfn = step_functions_per_million(measured)
    ratio = total / floor
    met = total <= TARGET_PER_MILLION and ratio <= TARGET_FLOOR_RATIO
    details = [f"prices: {PRICES_DATED}, us-east-1 (bench/prices.py); {tasks} tasks of demo-chat"]
    for ph in PHASES:
        per_task = ", ".join(f"{op} {n / tasks:.2g}" for (svc, op), n in sorted(calls[ph].items()) if svc != "sts")
        money = ", ".join(f"{svc} ${usd:.2f}" for svc, usd in sorted(measured[ph].items()))
        details.append(f"{ph}: {money}  | calls per task: {per_task}")
    details.append(f"floor ${floor:.2f}; Step Functions (Standard) per task ${sfn:.2f}")
    return Row(
        "a. cost per 1M tasks",
        f"${total:.2f} (floor ${floor:.2f}, {ratio:.2f}x; Step Functions ${sfn:.2f})",
        f"<= ${TARGET_PER_MILLION:.0f} and <= {TARGET_FLOOR_RATIO}x floor",
        met,
        details,
    )


def _clear_handler_caches() -> None:
    from asyncinfer import wiring

    wiring.reset()


if __name__ == "__main__":
    row = run()
    print(json.dumps(row.__dict__, indent=2))
