"""`asyncinfer keys create --tenant NAME`: mint an API key, print it once, store only its hash."""

from __future__ import annotations

import argparse
import os
import sys

from asyncinfer import wiring
from asyncinfer.tasks.errors import InvalidRequest
from asyncinfer.tasks.keys import create_key
from asyncinfer.usage_plans import ApiGatewayUsagePlan


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="asyncinfer", description="asyncinfer administration")
    commands = parser.add_subparsers(dest="command", required=True)
    keys = commands.add_parser("keys", help="API keys").add_subparsers(dest="action", required=True)
    create = keys.add_parser("create", help="create an API key for a tenant and print it once")
    create.add_argument("--tenant", required=True, help="tenant name: a-z, 0-9, '_' and '-'")
    create.add_argument(
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
    args = parser.parse_args(argv)
    if not args.table:
        parser.error("--table is required (or set ASYNCINFER_TABLE_NAME)")
    plan = ApiGatewayUsagePlan(wiring.client("apigateway"), args.usage_plan) if args.usage_plan else None
    try:
        key = create_key(wiring.task_store(args.table), args.tenant, usage_plan=plan)
    except InvalidRequest as exc:
        parser.error(exc.message)
    print(key)
    print(f"Key for tenant {args.tenant!r}; it is shown only now, store it safely.", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
