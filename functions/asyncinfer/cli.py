"""Administration.

`asyncinfer keys create --tenant NAME`: mint an API key, print it once, store only its hash.
`asyncinfer budget set|show|clear --tenant NAME`: a tenant's spending limits per UTC day and month.
`asyncinfer tenant show|set --tenant NAME`: the service classes it may use and its waiting quotas.
`asyncinfer preflight`: read-only checks of what a first deploy needs (docs/operate/deploy.md).
`asyncinfer smoke --url URL --key KEY`: each surface's reference requests end to end after a deploy.
`asyncinfer schedule list | run NAME`: the schedules file's schedules; run one now, through the batch
function's handler (locally, against `make dev`), or by invoking the deployed batch function (--function).
`asyncinfer trace TASK_ID`: a task's trace as a waterfall (locally), or where to find it in X-Ray (on AWS).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn

from botocore.exceptions import BotoCoreError, ClientError

from asyncinfer import wiring
from asyncinfer.domain.errors import InvalidRequest
from asyncinfer.ops import tenants as tenants_cli
from asyncinfer.ops import trace_view
from asyncinfer.ops.audit import add_audit_parser, run_audit
from asyncinfer.ops.local_stack import (
    LOCAL_STACK_FILE,
    NoLocalStack,
    adopt_local_stack,
    local_endpoint_defaults,
    local_stack,
)
from asyncinfer.schedules import Schedules, now_iso
from asyncinfer.tasks.keys import create_key, parse_expiry, revoke_key
from asyncinfer.usage_plans import ApiGatewayUsagePlan


def main(argv: list[str] | None = None) -> int:
    adopt_local_stack(sys.argv[1:] if argv is None else argv)
    local_endpoint_defaults()
    try:
        return _main(argv)
    except (BotoCoreError, ClientError) as exc:  # AWS (or the emulator) said no: its message, not a traceback
        _fail(str(exc))


def _main(argv: list[str] | None) -> int:
    parser = argparse.ArgumentParser(prog="asyncinfer", description="asyncinfer administration")
    commands = parser.add_subparsers(dest="command", required=True)
    keys = commands.add_parser("keys", help="API keys").add_subparsers(dest="action", required=True)
    create = keys.add_parser("create", help="create an API key for a tenant and print it once")
    create.add_argument("--tenant", required=True, help="tenant name: a-z, 0-9, '_' and '-'")
    create.add_argument("--expires", help="when the key stops working: 30d, 12h, 90m from now, or an ISO date")
    listing_keys = keys.add_parser("list", help="a tenant's keys (ids, created, expires, revoked; never the keys)")
    listing_keys.add_argument("--tenant", required=True)
    revoke = keys.add_parser(
        "revoke", help="stop a key from working (API Gateway may cache it a while: docs/operate/security.md)"
    )
    revoke.add_argument("key_id", help="the key's id, as `keys list` shows it")
    revoke.add_argument("--tenant", required=True)
    budget = commands.add_parser("budget", help="spending limits (US dollars per UTC day and month)")
    budgets = budget.add_subparsers(dest="action", required=True)
    set_budget = budgets.add_parser("set", help="set a tenant's daily or monthly limit, or both")
    set_budget.add_argument("--daily", help="US dollars per UTC day, e.g. 5.00")
    set_budget.add_argument("--monthly", help="US dollars per UTC month, e.g. 100")
    show_budget = budgets.add_parser("show", help="a tenant's limits and what it spent today and this month")
    clear_budget = budgets.add_parser("clear", help="remove a tenant's limits (both unless --daily or --monthly)")
    clear_budget.add_argument("--daily", action="store_true", help="only the daily limit")
    clear_budget.add_argument("--monthly", action="store_true", help="only the monthly limit")
    tenant = commands.add_parser("tenant", help="the service classes a tenant may use, and its waiting quotas")
    tenants = tenant.add_subparsers(dest="action", required=True)
    show_tenant = tenants.add_parser("show", help="a tenant's classes and waiting quotas")
    set_tenant = tenants.add_parser("set", help="set the classes a tenant may use, or a class's waiting quota")
    set_tenant.add_argument("--classes", help="comma-separated: priority, default, flex; or all (the default)")
    set_tenant.add_argument(
        "--waiting", action="append", default=[], help="CLASS=N: at most N of its tasks wait in CLASS (or none)"
    )
    for sub in (set_budget, show_budget, clear_budget, show_tenant, set_tenant):
        sub.add_argument("--tenant", required=True)
    for sub in (create, listing_keys, revoke, set_budget, show_budget, clear_budget, show_tenant, set_tenant):
        sub.add_argument(
            "--table",
            default=os.environ.get("ASYNCINFER_TABLE_NAME"),
            help="the task table (default: $ASYNCINFER_TABLE_NAME); set AWS_ENDPOINT_URL for the local stack",
        )
    create.add_argument(
        "--usage-plan",
        default=os.environ.get("ASYNCINFER_USAGE_PLAN_ID"),
        help="the stack's UsagePlanId output (default: $ASYNCINFER_USAGE_PLAN_ID); required on AWS, where "
        "API Gateway throttles each tenant through it; not used by the local stack",
    )
    schedule = commands.add_parser("schedule", help="scheduled batch invocations").add_subparsers(
        dest="action", required=True
    )
    listing = schedule.add_parser("list", help="the schedules of the schedules file")
    run = schedule.add_parser("run", help="run one schedule's batch now, through the batch function's handler")
    run.add_argument("name", help="the schedule's name")
    run.add_argument(
        "--function",
        help="invoke this deployed batch function (name or ARN, the stack's BatchFunctionName output) instead "
        "of running the handler here against the local stack",
    )
    run.add_argument(
        "--stack",
        default=os.environ.get("ASYNCINFER_STACK_FILE", LOCAL_STACK_FILE),
        help=f"the local stack's settings, written by `make dev` (default {LOCAL_STACK_FILE})",
    )
    for sub in (listing, run):
        sub.add_argument("--file", default="schedules.json", help="the schedules file (default schedules.json)")
    preflight = commands.add_parser(
        "preflight", help="read-only checks of what a first deploy needs, with your AWS credentials and region"
    )
    preflight.add_argument("--project", default=".", help="the project's root, where cdk.json is (default .)")
    preflight.add_argument("--region", help="the region to check (default: your AWS configuration's)")
    smoke = commands.add_parser("smoke", help="every surface end to end against a deployment (or make dev)")
    smoke.add_argument("--url", default=os.environ.get("ASYNCINFER_BASE_URL"), help="the ApiUrl output")
    smoke.add_argument("--key", default=os.environ.get("ASYNCINFER_API_KEY"), help="an API key")
    smoke.add_argument("--webhook", help="a receiver URL: a task's completion must be delivered to it")
    smoke.add_argument("--timeout", type=float, default=180, help="seconds each task may take (default 180)")
    runner = commands.add_parser("runner", help="the long-task runner's versions").add_subparsers(
        dest="action", required=True
    )
    prune = runner.add_parser("prune", help="delete the runner's versions that no unfinished long task runs on")
    prune.add_argument("--function", default=os.environ.get("ASYNCINFER_RUNNER_FUNCTION_NAME"), help="the runner")
    prune.add_argument("--keep", type=int, default=2, help="the newest versions kept whatever runs (default 2)")
    prune.add_argument("--dry-run", action="store_true", help="say what would be deleted, delete nothing")
    trace_view.add_parser(commands)
    add_audit_parser(commands)
    args = parser.parse_args(argv)
    if args.command == "audit":
        return run_audit(args)
    if args.command == "trace":
        return trace_view.run(parser, args, wiring.task_store)
    if args.command == "runner":
        return _prune(parser, args)
    if args.command == "schedule":
        return _schedule(parser, args)
    if args.command == "preflight":
        return _preflight(parser, args)
    if args.command == "smoke":
        return _smoke(parser, args)
    if not args.table:
        parser.error("--table is required (or set ASYNCINFER_TABLE_NAME)")
    store = wiring.task_store(args.table)
    if args.command == "budget":
        return _budget(parser, args, store)
    if args.command == "tenant":
        try:
            given = (args.classes, args.waiting) if args.action == "set" else (None, [])
            print("\n".join(tenants_cli.lines(tenants_cli.apply(store, args.tenant, *given))))
        except InvalidRequest as exc:
            parser.error(exc.message)
        return 0
    if args.action == "list":
        for info in store.list_api_keys(args.tenant):
            expires = _when(info.expires_at * 1000) if info.expires_at else "never"
            revoked = f"revoked {_when(info.revoked_at)}" if info.revoked_at else "active"
            print(f"{info.key_id}\tcreated {_when(info.created_at)}\texpires {expires}\t{revoked}")
        return 0
    if args.action == "revoke":
        if not revoke_key(store, args.tenant, args.key_id):
            parser.error(f"tenant {args.tenant!r} has no active key {args.key_id!r}")
        print(
            f"Revoked {args.key_id}. API Gateway may keep answering for it from its authorizer cache for up to "
            "authorizer_cache_seconds (300 s by default), as does the local stack's gateway.",
            file=sys.stderr,
        )
        return 0
    plan = ApiGatewayUsagePlan(wiring.client("apigateway"), args.usage_plan) if args.usage_plan else None
    try:
        expires_at = parse_expiry(args.expires) if args.expires else None
        key = create_key(store, args.tenant, usage_plan=plan, expires_at=expires_at)
    except InvalidRequest as exc:
        parser.error(exc.message)
    print(key)
    print(f"Key for tenant {args.tenant!r}; it is shown only now, store it safely.", file=sys.stderr)
    return 0


def _when(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _budget(parser: argparse.ArgumentParser, args: argparse.Namespace, store: Any) -> int:
    """Set or clear a tenant's limits, then show them with what it spent in the current periods."""
    from decimal import Decimal

    from asyncinfer.domain.budgets import Period, dollars, parse_limit, period_label
    from asyncinfer.tasks.budgets import Budgets

    budgets = Budgets(store)
    try:
        if args.action == "set":
            daily = parse_limit(args.daily) if args.daily is not None else None
            monthly = parse_limit(args.monthly) if args.monthly is not None else None
            budgets.set_limits(args.tenant, daily=daily, monthly=monthly)
        elif args.action == "clear":
            chosen = [p for p, wanted in ((Period.DAILY, args.daily), (Period.MONTHLY, args.monthly)) if wanted]
            budgets.clear_limits(args.tenant, chosen or list(Period))
        report = budgets.report(args.tenant)
    except InvalidRequest as exc:
        parser.error(exc.message)
    today = report.spent.today
    for period in Period:
        limit, spent = report.budget.limit(period), report.spent.of(period)
        reserved = report.reserved.get(period, Decimal(0))
        shown = "no limit"
        if limit is not None:
            shown = f"limit {dollars(limit)}\tremaining {dollars(max(limit - spent - reserved, Decimal(0)))}"
        figures = f"spent {dollars(spent)}\treserved {dollars(reserved)}\t{shown}"
        print(f"{period.value}\t{period_label(period, today)}\t{figures}")
    return 0


def _fail(message: str) -> NoReturn:
    raise SystemExit(f"asyncinfer: {message}")


def _schedule(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    try:
        schedules = Schedules.load(Path(args.file))
    except (OSError, ValueError) as exc:
        parser.error(f"cannot read {args.file}: {exc}")
    if args.action == "list":
        for item in schedules.schedules:
            state = "enabled" if item.enabled else "disabled"
            print(f"{item.name}\t{item.expression}\t{item.timezone}\t{state}\ttenant={item.tenant}")
        return 0
    try:
        event = schedules.get(args.name).invocation(scheduled_time=now_iso())
    except KeyError:
        parser.error(f"no schedule named {args.name!r} in {args.file}")
    result = _invoke_remote(args.function, event) if args.function else _invoke_here(args.stack, event)
    print(json.dumps(result, indent=2))
    return 0


def _invoke_here(stack_file: str, event: dict[str, Any]) -> Any:
    try:
        settings = local_stack(Path(stack_file))
    except NoLocalStack as exc:
        if Path(stack_file).exists() or not os.environ.get("ASYNCINFER_BATCH_QUEUE_URL"):
            _fail(f"{exc}, or pass --function for AWS")
        settings = {}  # no file, and the environment names a stack's resources itself
    for name, value in settings.items():
        os.environ.setdefault(name, value)
    from asyncinfer.config import BatchSettings
    from asyncinfer.domain.batches import ScheduledInvocation
    from asyncinfer.surfaces import openai_batches as view

    return view.render(wiring.batches(BatchSettings()).submit_scheduled(ScheduledInvocation.model_validate(event)))


def _preflight(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    import boto3

    from asyncinfer.ops.preflight import Preflight, Result, render

    project = Path(args.project).resolve()
    if not (project / "cdk.json").is_file():
        parser.error(f"no cdk.json in {project}: run from the project's root or pass --project")
    session = boto3.session.Session()
    region = args.region or session.region_name
    checks = Preflight(
        lambda service, at=None: session.client(service, region_name=at or region, config=wiring.CONFIG),
        region,
        deployment_target(project),
    ).run()
    print(render(checks))
    return 1 if any(check.result == Result.FAIL for check in checks) else 0


def deployment_target(project: Path):
    """What the stack in `project` will need: its cdk.json settings (validated as the synth does) and the
    model registry it will bundle."""
    from asyncinfer.domain.catalog import BedrockConfig
    from asyncinfer.ops.preflight import Target

    sys.path.insert(0, str(project))
    from infra.config import InfraConfig

    config = InfraConfig.from_context(json.loads((project / "cdk.json").read_text())["context"].get("asyncinfer"))
    registry = config.registry()
    bedrock = {
        (spec.upstream, provider.region)
        for spec in registry.models.values()
        if isinstance(provider := registry.providers.get(spec.provider), BedrockConfig)
    }
    return Target(
        stage=config.stage,
        architecture=config.architecture,
        web_adapter_layer_version=config.web_adapter_layer_version,
        web_adapter_layer_arn=config.web_adapter_layer_arn,
        api_gateway_cloudwatch_role=config.api_gateway_cloudwatch_role,
        project=project,
        bedrock_models=tuple(sorted(bedrock, key=str)),
        secret_arns=tuple(sorted(set(config.provider_secret_arns) | set(registry.secret_arns()))),
        long_tasks=config.long_tasks,
        runner_reserved_concurrency=config.runner_reserved_concurrency,
        tracing=config.tracing.enabled,
        custom_domain=(domain.name, domain.certificate_arn)
        if (domain := config.custom_domain) and domain.certificate_arn
        else None,
        hosted_zone=(domain.name, domain.hosted_zone_id, domain.hosted_zone_name)
        if domain and domain.hosted_zone_id and domain.hosted_zone_name
        else None,
        private_endpoints=tuple(config.vpc_endpoint_ids),  # none unless the endpoint is private
    )


def _smoke(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    from asyncinfer.ops.smoke import Smoke, render

    if not args.url or not args.key:
        parser.error("--url and --key are required (or set ASYNCINFER_BASE_URL and ASYNCINFER_API_KEY)")
    lines = Smoke(args.url, args.key, webhook=args.webhook, timeout=args.timeout).run(
        lambda line: print(render(line), flush=True)
    )
    failed = [line for line in lines if not line.ok]
    print(f"smoke: {len(failed)} of {len(lines)} checks failed" if failed else f"smoke: all {len(lines)} checks passed")
    return 1 if failed else 0


def _prune(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    from asyncinfer.ops.prune import prune_versions, render

    if not args.function or args.keep < 0:
        parser.error("--function is required (the RunnerFunctionName output) and --keep is 0 or more")
    print(
        "\n".join(render(prune_versions(wiring.client("lambda"), args.function, keep=args.keep, dry_run=args.dry_run)))
    )
    return 0


def _invoke_remote(function: str, event: dict[str, Any]) -> Any:
    resp = wiring.client("lambda").invoke(FunctionName=function, Payload=json.dumps(event).encode())
    payload = json.loads(resp["Payload"].read() or b"null")
    if resp.get("FunctionError"):
        raise SystemExit(f"the batch function failed: {json.dumps(payload)}")
    return payload


if __name__ == "__main__":
    sys.exit(main())
