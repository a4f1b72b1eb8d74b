"""Capacity: the Lambda concurrency the stack can demand against the account's quota, the runner's
reservation against what Lambda keeps unreserved, and whether the region runs durable functions."""

from __future__ import annotations

from botocore.exceptions import BotoCoreError, ClientError

from asyncinfer.ops.preflight.base import Check, Context, Result, error_code
from asyncinfer.ops.preflight.demand import Demand, demand_of

# The logical id CDK gives the long-task runner's function (infra/components/runner.py; tests/infra checks it).
RUNNER_LOGICAL_ID = "RunnerFunction"


def _demand(ctx: Context) -> Demand | str:
    """What the stack can demand, or why it cannot be told."""
    if ctx.target.demand is not None:
        return ctx.target.demand
    if ctx.target.project is None:
        return "no project to synthesize"
    try:
        return demand_of(ctx.host.stack_template(ctx.target.project))
    except Exception as exc:  # a synth can fail in many ways: the check says how, and the run goes on
        return f"the stack did not synthesize ({type(exc).__name__}: {str(exc)[:300]})"


def concurrency(ctx: Context) -> Check:
    """The event sources' maxima and the reservations, summed from the synthesized template, against the
    account's 'Concurrent executions' quota; each unbounded function needs at least one execution beside
    them (https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-scaling.html#services-sqs-max-concurrency)."""
    name = "Lambda concurrency"
    limit = ctx.account_limit()["ConcurrentExecutions"]
    demand = _demand(ctx)
    if isinstance(demand, str):
        return Check(
            name,
            Result.WARN,
            f"the account may run {limit} functions at once; what the stack can demand is not known: {demand}",
            "run preflight from the project's root (where cdk.json is), with Node.js on PATH",
        )
    needed = demand.total + len(demand.unbounded)
    others = f"{len(demand.unbounded)} other functions ({', '.join(demand.unbounded)})"
    if limit < needed:
        return Check(
            name,
            Result.WARN,
            f"the account may run {limit} functions at once; the stack's event sources and reservations may take "
            f"{demand.total} ({demand.describe()}), and {others} need room beside them",
            f"request a 'Concurrent executions' quota of at least {needed} in Service Quotas, or lower the "
            "*_max_concurrency settings in cdk.json",
        )
    return Check(
        name,
        Result.OK,
        f"{limit} concurrent executions in the account; the stack's event sources and reservations take at most "
        f"{demand.total} ({demand.describe()}), leaving {limit - demand.total} to {others}",
    )


def runner_concurrency(ctx: Context) -> Check:
    """Reserved concurrency is taken from the account's unreserved pool, of which Lambda keeps at least 100
    (https://docs.aws.amazon.com/lambda/latest/dg/configuration-concurrency.html); new accounts start
    with a low quota (https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html)."""
    name = "runner concurrency"
    reserve = ctx.target.runner_reserved_concurrency
    if not ctx.target.long_tasks or reserve is None:
        return Check(
            name,
            Result.OK,
            "none reserved (runner_reserved_concurrency null): the runner, if any, shares the unreserved pool, "
            "and each tenant's long tasks are capped (max_long_tasks_per_tenant)",
        )
    account = ctx.account_limit()
    # On an update, what the deployed runner reserves now is out of the pool and comes back to it.
    unreserved = account.get("UnreservedConcurrentExecutions", account["ConcurrentExecutions"])
    unreserved += _runner_reserved_now(ctx)
    left = unreserved - reserve
    if left < 100:
        return Check(
            name,
            Result.FAIL,
            f"reserving {reserve} for the runner would leave {left} of the account's {unreserved} unreserved "
            "concurrent executions; Lambda keeps at least 100 unreserved (the deploy would fail)",
            f"request a 'Concurrent executions' quota of at least {account['ConcurrentExecutions'] - left + 100} "
            "in Service Quotas, or lower runner_reserved_concurrency in cdk.json (null: none reserved)",
        )
    return Check(name, Result.OK, f"{reserve} reserved for the runner, {left} of {unreserved} left unreserved")


def _runner_reserved_now(ctx: Context) -> int:
    try:
        resources = ctx.clients("cloudformation").describe_stack_resources(StackName=f"asyncinfer-{ctx.target.stage}")[
            "StackResources"
        ]
    except ClientError as exc:
        if error_code(exc) == "ValidationError":
            return 0  # a first deploy
        raise
    runner = [
        r["PhysicalResourceId"]
        for r in resources
        if r["ResourceType"] == "AWS::Lambda::Function" and r["LogicalResourceId"].startswith(RUNNER_LOGICAL_ID)
    ]
    found = ctx.clients("lambda").get_function_concurrency(FunctionName=runner[0]) if runner else {}
    return int(found.get("ReservedConcurrentExecutions") or 0)


def long_tasks(ctx: Context) -> Check:
    """Durable functions answer for a function that does not exist with ResourceNotFoundException; a
    Region without them has no such API."""
    name = "long tasks (durable functions)"
    if not ctx.target.long_tasks:
        return Check(name, Result.OK, "off (long_tasks false): long tasks are refused at submit")
    try:
        ctx.clients("lambda").list_durable_executions_by_function(FunctionName="asyncinfer-preflight-probe")
    except ClientError as exc:
        if error_code(exc) == "ResourceNotFoundException":
            return Check(name, Result.OK, "Lambda durable functions answer in this region")
        detail = f"Lambda durable functions do not answer in this region ({error_code(exc) or exc})"
    except BotoCoreError as exc:
        detail = f"Lambda durable functions do not answer in this region ({type(exc).__name__})"
    else:
        return Check(name, Result.OK, "Lambda durable functions answer in this region")
    fix = 'set "long_tasks": false in cdk.json: the stack deploys without the runner and refuses long tasks'
    return Check(name, Result.FAIL, detail, fix)
