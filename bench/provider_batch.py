"""Row j: a 200-item batch on a model with a batch API (demo-batch-bedrock: the local stand-in of Bedrock batch
inference, its job taking a minute) goes up as one upstream job run by the long-task runner, which waits between
polls without compute. The runner's billed time (its invocations' REPORT lines) while the job runs, against the
batch's wall time; what collecting the 200 results took is shown apart (the steps' own times, from the durable
execution's history)."""

from __future__ import annotations

import json
import re
import tempfile
import time
from datetime import datetime
from pathlib import Path

import boto3
import httpx

from bench.common import SMOKE, Row
from infra.local.launch import launch

ITEMS = 20 if SMOKE else 200
JOB_SECONDS = 5 if SMOKE else 60
TARGET_SHARE = 0.02
PRICED = Path(__file__).resolve().parents[1] / "functions/asyncinfer/models.priced.json"
DURABLE = re.compile(r"durable\s+(http://\S+)")
REPORT = re.compile(r"^REPORT RequestId: \S+ Duration: [\d.]+ ms Billed Duration: (\d+) ms")
COLLECTING = re.compile(r"^(results|collect-\d+|absent)$")
SETTING_UP = re.compile(r"^(prepare|start)$")
POLL_SECONDS = 30  # the longest wait between polls (the demo model's 5 s suits tests; a deployment's default is 60)


def run() -> Row:
    registry = json.loads(PRICED.read_text())
    registry["models"]["demo-batch-bedrock"]["batch"]["poll_seconds"] = POLL_SECONDS
    models = Path(tempfile.mkdtemp()) / "models.json"
    models.write_text(json.dumps(registry))
    stack = launch(
        "ai_bench_",
        ASYNCINFER_MODELS_FILE=str(models),
        ASYNCINFER_DEMO_BATCH_SECONDS=str(JOB_SECONDS),
        ASYNCINFER_RUNNER_REPORTS="1",
    )
    try:
        headers = {"Authorization": f"Bearer {stack.key}"}
        requests = [
            {
                "custom_id": f"q{i}",
                "body": {"model": "demo-batch-bedrock", "messages": [{"role": "user", "content": f"Q{i}"}]},
            }
            for i in range(ITEMS)
        ]
        with httpx.Client(base_url=stack.url, headers=headers, timeout=30) as client:
            began = time.monotonic()
            created = client.post("/v1/batches", json={"requests": requests})
            created.raise_for_status()
            batch_id = created.json()["id"]
            while (read := client.get(f"/v1/batches/{batch_id}").json())["status"] not in ("completed", "failed"):
                if time.monotonic() - began > JOB_SECONDS + 300:
                    raise TimeoutError("the batch never finished")
                time.sleep(0.5)
            wall = time.monotonic() - began
        url = next(m.group(1) for line in stack.output if (m := DURABLE.search(line)))
        lam = boto3.client(
            "lambda", endpoint_url=url, region_name="us-east-1", aws_access_key_id="l", aws_secret_access_key="l"
        )
        name = f"batchpart-{batch_id.removeprefix('batch_').replace('-', '')}-0"
        (execution,) = lam.list_durable_executions_by_function(
            FunctionName="asyncinfer-runner", DurableExecutionName=name
        )["DurableExecutions"]
        events = lam.get_durable_execution_history(DurableExecutionArn=execution["DurableExecutionArn"])["Events"]
    finally:
        stack.stop()
    invocations = [float(m.group(1)) / 1000 for line in stack.output if (m := REPORT.search(line))]
    billed = sum(invocations)
    collecting = _steps_seconds(events, COLLECTING)
    setting_up = _steps_seconds(events, SETTING_UP)
    waiting = max(0.0, billed - collecting - setting_up)
    share = waiting / wall
    polls = sum(1 for e in events if e["EventType"] == "WaitStarted")
    completed = read["request_counts"]["completed"]
    return Row(
        name=f"j. provider batch: {ITEMS} items, one {JOB_SECONDS} s upstream job" + (" (smoke)" if SMOKE else ""),
        figure=f"runner billed {waiting:.2f} s while waiting of {wall:.0f} s wall ({share:.2%}); {completed} completed",
        target=f"billed while waiting <= {TARGET_SHARE:.0%} of wall time",
        met=share <= TARGET_SHARE and completed == ITEMS,
        details=[
            f"{len(invocations)} runner invocations billed {billed:.2f} s in all: {setting_up:.2f} s writing the job's "
            f"input and starting it (steps prepare, start), {collecting:.2f} s collecting the {ITEMS} results (steps "
            "results, collect-N: each item ended through the worker at the batch price), the rest while the job "
            f"ran: {polls} durable waits (no compute) and their polls, waits growing from 5 s to {POLL_SECONDS} s.",
        ],
    )


def _steps_seconds(events: list[dict], names: re.Pattern[str]) -> float:
    """The named steps' own time: from each one's start to its end, in the execution's history."""
    started: dict[str, datetime] = {}
    total = 0.0
    for event in events:
        step = event.get("Name") or ""
        if not names.match(step):
            continue
        if event["EventType"] == "StepStarted":
            started[step] = event["EventTimestamp"]
        elif event["EventType"] == "StepSucceeded" and step in started:
            total += (event["EventTimestamp"] - started[step]).total_seconds()
    return total
