"""(a) Cost per million tasks: the billable AWS requests of each phase of a task's life, counted from the
real botocore calls of a local run (dev gateway, handlers and event-source poller on the emulator),
priced with bench/prices.py; beside it the floor the design needs and a Step Functions-per-task design."""

from __future__ import annotations

import json
import os
from collections import Counter, defaultdict
from contextlib import ExitStack
from typing import Any

import boto3
from moto import mock_aws
from starlette.testclient import TestClient

from asyncinfer.observability import logger
from asyncinfer.store.dynamodb import DynamoTaskStore
from asyncinfer.store.schema import EVENT_PREFIX, TASK_PREFIX
from asyncinfer.tasks.keys import create_key
from bench.common import SMOKE, CallLog, Row, TaggedFunctions, phase
from bench.ddb_billing import Billing, write_units
from bench.prices import PRICES, PRICES_DATED
from infra.config import InfraConfig
from infra.local.devserver import build_app
from infra.local.emulator import provision
from infra.local.poller import Poller

TARGET_PER_MILLION = 12.0
TARGET_FLOOR_RATIO = 1.15
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


def billed(calls) -> list[tuple[Any, float, float, int]]:
    """(call, write units, read units, index writes) of every DynamoDB call, in the order they were made."""
    billing = Billing()
    return [(call, *billing.units(call)) for call in calls if call.service == "dynamodb"]


def price_calls(calls, tasks: int, invocations) -> dict[str, dict[str, float]]:
    """USD per million tasks by phase and by service, from the recorded calls and invocations."""
    by: dict[str, Counter[str]] = defaultdict(Counter)
    aws_seconds: Counter[tuple[str, str]] = Counter()
    local_seconds: Counter[tuple[str, str]] = Counter()
    units = {id(call): (wru + index, rru) for call, wru, rru, index in billed(calls)}
    for call in calls:
        if call.phase not in PHASES:
            continue
        if call.service == "dynamodb":
            wru, rru = units[id(call)]
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
        seconds = max(0.0, elapsed - local_seconds[(phase_name, function)]) + aws_seconds[(phase_name, function)]
        by[phase_name]["lambda"] += (
            seconds * MEMORY_GB.get(function, DEFAULT_MEMORY_GB) * PRICES["lambda_arm_gb_second"]
        )
    return {p: {s: v / tasks * 1e6 for s, v in by[p].items()} for p in PHASES}


def _function_seconds(invocations) -> Counter[tuple[str, str]]:
    seconds: Counter[tuple[str, str]] = Counter()
    for phase_name, function, elapsed in invocations:
        seconds[(phase_name, function)] += elapsed
    return seconds


def _task_key(key: dict[str, Any] | None) -> str | None:
    sk = (key or {}).get("sk", {}).get("S", "")
    return sk if sk.startswith(TASK_PREFIX) else None


def floor_purpose(call, read: set[str]) -> str | None:
    """Which of the floor's DynamoDB requests a call is, or None for one beyond it; `read` holds the tasks the
    worker has read already (only its first read, before the claim, is the floor's)."""
    names = set((call.params.get("ExpressionAttributeNames") or {}).values())
    if call.function == "authorizer" or call.params.get("IndexName"):
        return None  # the authorizer (cached on AWS) and the in-flight count
    if call.phase == "submit" and call.operation == "PutItem":
        return "task written"
    if call.phase == "process":
        task = _task_key(call.params.get("Key"))
        if call.operation == "GetItem" and task is not None and task not in read:
            read.add(task)
            return "task read by the worker"
        if call.operation == "PutItem" and call.params["Item"]["sk"]["S"].startswith(EVENT_PREFIX):
            return "event-log batch"
        if call.operation == "UpdateItem" and "started_at" in names:
            return "claim"
        if call.operation == "UpdateItem" and "completed_at" in names:
            return "COMPLETED"
        if call.operation == "TransactWriteItems":
            ((update,),) = [a.values() for a in call.params["TransactItems"][:1]]
            if "completed_at" in (update.get("ExpressionAttributeNames") or {}).values():
                return "COMPLETED, charged"
    if call.phase == "poll" and call.operation == "GetItem":
        return "poll"
    if call.phase == "list" and call.operation == "Query":
        return "list page"
    return None


def _floor_before(call) -> bool:
    """The floor as defined until 2026-12 (for comparison): every read of the task in the process phase, no
    ending in a transaction."""
    if call.phase == "process" and call.operation == "GetItem":
        return True
    return call.operation != "TransactWriteItems" and floor_purpose(call, set()) is not None


def floor_per_million(calls, tasks: int, measured: dict[str, dict[str, float]]) -> tuple[float, float, float]:
    """The fewest billable requests the design needs per task, priced at the item sizes of this run:
    three API calls (submit, poll, list) and their function time; a tenth of a worker invocation
    (batches of 10); one SendMessage, a tenth of a receive and of a delete; DynamoDB: the task written,
    read once and claimed by the worker, one event-log batch, marked COMPLETED in one transaction with the
    usage line it is charged to, read by the poll, one list page; each write with the index writes it
    makes (docs/decisions.md). Beyond it: the authorizer, the quota reads and writes, the tenant's
    settings, the lanes' start counters and the lease/sequence compare-and-set before each event-log
    batch. Returns (floor, the same without index writes, the floor as defined before 2026-12)."""
    p = PRICES
    wru_price, rru_price = p["dynamodb_write_request_unit"], p["dynamodb_read_request_unit"]
    dynamodb = indexes = before = 0.0
    read: set[str] = set()
    for call, wru, rru, index in billed(calls):
        if call.phase not in PHASES:
            continue
        if floor_purpose(call, read) is not None:
            dynamodb += wru * wru_price + rru * rru_price
            indexes += index * wru_price
        if _floor_before(call):
            if call.operation in ("PutItem", "UpdateItem"):
                wru = write_units(call.params.get("Item") or call.response.get("Attributes"))
            before += wru * wru_price + rru * rru_price
    lambda_measured = sum(measured[ph].get("lambda", 0) for ph in PHASES) / 1e6
    fixed = 3 * p["apigateway_rest_request"] + 1.2 * p["sqs_request"] + lambda_measured
    return tuple((fixed + d / tasks) * 1e6 for d in (dynamodb + indexes, dynamodb, before))


def waf_per_million(measured: dict[str, dict[str, float]]) -> float:
    """What a web ACL on the stage adds per 1M tasks: each request API Gateway took, inspected once."""
    requests = (
        sum(services.get("apigateway", 0.0) for services in measured.values()) / PRICES["apigateway_rest_request"]
    )
    return requests * PRICES["waf_request"]


def waf_month(rules: int) -> float:
    """The web ACL's monthly fee with `rules` rules (infra/components/firewall.py: the rate rule and the two
    managed groups; an allow-list adds one per address family)."""
    return PRICES["waf_web_acl_month"] + rules * PRICES["waf_rule_month"]


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
    floor, no_index, floor_before = floor_per_million(log.calls, tasks, measured)
    sfn = step_functions_per_million(measured)
    ratio = total / floor
    waf = waf_per_million(measured)
    met = total <= TARGET_PER_MILLION and ratio <= TARGET_FLOOR_RATIO
    details = [f"prices: {PRICES_DATED}, us-east-1 (bench/prices.py); {tasks} tasks of demo-chat"]
    for ph in PHASES:
        per_task = ", ".join(f"{op} {n / tasks:.2g}" for (svc, op), n in sorted(calls[ph].items()) if svc != "sts")
        money = ", ".join(f"{svc} ${usd:.2f}" for svc, usd in sorted(measured[ph].items()))
        details.append(f"{ph}: {money}  | calls per task: {per_task}")
    details.append(
        f"floor ${floor:.2f}; without its index writes ${no_index:.2f} ({total / no_index:.2f}x); as defined "
        f"before 2026-12 ${floor_before:.2f} ({total / floor_before:.2f}x); "
        f"Step Functions (Standard) per task ${sfn:.2f}"
    )
    details.append(
        f"with the WAF on (cdk.json waf): +${waf:.2f} per 1M tasks (each API request inspected, "
        f"${PRICES['waf_request'] * 1e6:.2f} per million), and ${waf_month(3):.0f} a month (its web ACL and 3 rules)"
    )
    return Row(
        "a. cost per 1M tasks",
        f"${total:.2f} (floor ${floor:.2f}, {ratio:.2f}x; Step Functions ${sfn:.2f}; WAF +${waf:.2f})",
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
