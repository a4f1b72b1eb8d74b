"""`asyncinfer preflight`: read-only checks, with the caller's credentials and region, of everything a first
`cdk deploy` depends on. Each check answers ok, warn or fail, and a failing one says how to fix it.

Nothing here writes: every AWS call is a Describe/Get/List, and the stack is synthesized into a temporary
directory. The sources behind each check are in docs/operate/deploy.md."""

from __future__ import annotations

from collections.abc import Iterator

from asyncinfer.ops.preflight import account, capacity, models, toolchain
from asyncinfer.ops.preflight.base import Check, Clients, Context, Result, Target, render
from asyncinfer.ops.preflight.capacity import RUNNER_LOGICAL_ID
from asyncinfer.ops.preflight.demand import Demand, demand_of
from asyncinfer.ops.preflight.host import Host

__all__ = ["RUNNER_LOGICAL_ID", "Check", "Demand", "Host", "Preflight", "Result", "Target", "demand_of", "render"]


class Preflight:
    def __init__(self, clients: Clients, region: str | None, target: Target, host: Host | None = None) -> None:
        self.ctx = Context(clients, region, target, host or Host())

    def run(self) -> list[Check]:
        checks: list[Check] = []
        for check in self._checks():
            checks.append(check)
            if check.result == Result.FAIL and check.name in ("credentials", "region"):
                break  # nothing else can be asked
        return checks

    def _checks(self) -> Iterator[Check]:
        ctx = self.ctx
        yield account.region(ctx)
        yield account.credentials(ctx)
        yield toolchain.tools(ctx)
        yield toolchain.node(ctx)
        yield from toolchain.lock(ctx)
        yield account.bootstrap(ctx)
        yield account.existing_stack(ctx)
        yield account.api_gateway_logging_role(ctx)
        yield account.web_adapter_layer(ctx)
        if ctx.target.tracing:
            yield account.trace_destination(ctx)
        if ctx.target.custom_domain is not None:
            yield account.certificate(ctx, *ctx.target.custom_domain)
        if ctx.target.hosted_zone is not None:
            yield account.hosted_zone(ctx, *ctx.target.hosted_zone)
        if ctx.target.private_endpoints:
            yield account.vpc_endpoints(ctx, ctx.target.private_endpoints)
            yield account.private_api(ctx)
        yield capacity.concurrency(ctx)
        yield capacity.runner_concurrency(ctx)
        yield capacity.long_tasks(ctx)
        for model, region in ctx.target.bedrock_models:
            yield models.availability(ctx, model, region)
            yield models.lifecycle(ctx, model, region)
        for arn in ctx.target.secret_arns:
            yield account.secret(ctx, arn)
