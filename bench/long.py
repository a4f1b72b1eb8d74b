"""Row g: a video generated as an upstream job of 5 minutes (the demo job service of the local stack, in
Bedrock's async-invoke shape) by the long-task runner, which waits between polls without compute. The
runner's billed time (the sum of its invocations, from the durable execution's history) against the task's
wall time; the MP4 fetched through the URL a read presigns, and decoded. Then a 30-minute job priced three
ways from what this run measured: the durable runner, one Lambda function holding the wait, Step Functions."""

from __future__ import annotations

import io
import re
import time

import boto3
import httpx

from bench.common import SMOKE, Row
from bench.prices import PRICES
from infra.local.launch import launch

UPSTREAM_SECONDS = 5 if SMOKE else 300
TARGET_SHARE = 0.02
MEMORY_GB = 1.0  # the runner's memory (infra/components/runner.py)
DURABLE = re.compile(r"durable\s+(http://\S+)")
REPORT = re.compile(r"^REPORT RequestId: \S+ Duration: [\d.]+ ms Billed Duration: (\d+) ms")


def run() -> Row:
    stack = launch("ai_bench_", ASYNCINFER_DEMO_VIDEO_SECONDS=str(UPSTREAM_SECONDS), ASYNCINFER_RUNNER_REPORTS="1")
    try:
        headers = {"Authorization": f"Bearer {stack.key}"}
        with httpx.Client(base_url=stack.url, headers=headers, timeout=30) as client:
            began = time.monotonic()
            created = client.post("/v1/generation", json={"model": "demo-video", "config": {"prompt": "a calm sea"}})
            created.raise_for_status()
            gen_id = created.json()["id"]
            while (read := client.get(f"/v1/generation/{gen_id}").json())["status"] not in ("completed", "failed"):
                if time.monotonic() - began > UPSTREAM_SECONDS + 300:
                    raise TimeoutError("the video never finished")
                time.sleep(1)
            wall = time.monotonic() - began
            (file,) = read["result"]["data"]
            video = httpx.get(file["url"], timeout=60).content
        import av

        with av.open(io.BytesIO(video)) as container:
            frames = sum(1 for _ in container.decode(video=0))
        url = next(m.group(1) for line in stack.output if (m := DURABLE.search(line)))
        lam = boto3.client(
            "lambda", endpoint_url=url, region_name="us-east-1", aws_access_key_id="l", aws_secret_access_key="l"
        )
        (execution,) = lam.list_durable_executions_by_function(
            FunctionName="asyncinfer-runner", DurableExecutionName=gen_id
        )["DurableExecutions"]
        events = lam.get_durable_execution_history(DurableExecutionArn=execution["DurableExecutionArn"])["Events"]
    finally:
        stack.stop()
    # The runner instance's REPORT lines, as Lambda logs them: what each invocation is billed for.
    invocations = [float(m.group(1)) / 1000 for line in stack.output if (m := REPORT.search(line))]
    billed = sum(invocations)
    operations = sum(1 for e in events if e["EventType"] in ("StepStarted", "WaitStarted"))
    share = billed / wall
    per_invocation = billed / max(len(invocations), 1)
    durable, holding, stepfunctions = price_30_minutes(operations, len(invocations), per_invocation)
    return Row(
        name="g. long task: 5-min upstream video job" + (" (smoke: 5 s)" if SMOKE else ""),
        figure=f"runner billed {billed:.1f} s of {wall:.0f} s wall ({share:.2%}); MP4 of {frames} frames decoded",
        target=f"billed <= {TARGET_SHARE:.0%} of wall time",
        met=share <= TARGET_SHARE and frames > 0 and read["status"] == "completed",
        details=[
            f"{len(invocations)} runner invocations, {operations} durable operations (steps and waits), "
            f"{per_invocation * 1000:.0f} ms billed per invocation on average (local runner, this machine).",
            "A 30-minute job, polled as this one was (waits growing from 5 s to 30 s), in us-east-1 list prices: "
            f"durable runner ${durable:.5f}; one function holding the wait ${holding:.5f} (two 15-minute "
            f"invocations, as Lambda caps one at 900 s); Step Functions Standard ${stepfunctions:.5f} "
            "(a Wait, a polling Task and a Choice per poll, plus the polling function's invocations).",
        ],
    )


def polls_in(seconds: float, first: int = 5, longest: int = 30) -> int:
    """How many polls the runner makes over `seconds` (runner/jobs.JobSteps.run's wait schedule)."""
    waited, wait, polls = 0.0, first, 0
    while waited < seconds:
        waited += wait
        polls += 1
        wait = min(longest, max(wait + 1, int(wait * 1.5)))
    return polls


def price_30_minutes(operations: int, invocations: int, per_invocation: float) -> tuple[float, float, float]:
    polls = polls_in(30 * 60)
    fixed_operations = max(0, operations - 2 * polls_in(UPSTREAM_SECONDS))  # begin, start-job, finish
    ops = fixed_operations + 2 * polls  # a wait and a poll step each time
    calls = polls + 2
    gb_second = PRICES["lambda_arm_gb_second"]
    durable = (
        ops * PRICES["lambda_durable_operation"]
        + calls * PRICES["lambda_request"]
        + calls * per_invocation * MEMORY_GB * gb_second
    )
    holding = 2 * PRICES["lambda_request"] + 30 * 60 * MEMORY_GB * gb_second
    stepfunctions = (3 * polls + 3) * PRICES["stepfunctions_standard_transition"] + calls * (
        PRICES["lambda_request"] + per_invocation * MEMORY_GB * gb_second
    )
    return durable, holding, stepfunctions
