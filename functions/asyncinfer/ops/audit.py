"""`asyncinfer audit list [--tenant T] [--since 7d|DATE]`: the administrative actions recorded in the audit log
(asyncinfer.tasks.audit), oldest first, one a line: time, action, tenant, actor, parameters."""

from __future__ import annotations

import argparse
import json
import os
import re
import time
from datetime import UTC, datetime

from asyncinfer.tasks.audit import TABLE_ENV, AuditEntry, AuditLog

DEFAULT_SINCE = "30d"


def add_audit_parser(commands: argparse._SubParsersAction) -> None:
    audit = commands.add_parser("audit", help="the log of administrative actions").add_subparsers(
        dest="action", required=True
    )
    listing = audit.add_parser("list", help="keys created and revoked, budgets and tenant settings set, by whom")
    listing.add_argument("--tenant", help="only this tenant's entries")
    listing.add_argument(
        "--since",
        default=DEFAULT_SINCE,
        help=f"entries from then on: 7d, 12h, 90m ago, or an ISO date or time (default {DEFAULT_SINCE})",
    )
    listing.add_argument(
        "--audit-table",
        default=os.environ.get(TABLE_ENV),
        help=f"the audit table (default: ${TABLE_ENV}; the stack's AuditTableName output)",
    )


def run_audit(args: argparse.Namespace, log: AuditLog | None = None) -> int:
    if log is None:
        if not args.audit_table:
            raise SystemExit(f"asyncinfer: --audit-table is required (or set {TABLE_ENV})")
        import boto3

        from asyncinfer.store.dynamodb_audit import DynamoAuditLog

        log = DynamoAuditLog(boto3.client("dynamodb"), args.audit_table)
    try:
        since = parse_since(args.since)
    except ValueError as exc:
        raise SystemExit(f"asyncinfer: {exc}") from None
    for entry in log.entries(args.tenant, since):
        print(line(entry))
    return 0


def parse_since(value: str, now: float | None = None) -> int:
    """`7d`, `12h`, `90m` ago, or a date (2025-06-01) or time (2025-06-01T12:00:00Z): epoch milliseconds."""
    now = time.time() if now is None else now
    found = re.fullmatch(r"([0-9]{1,6})([dhm])", value)
    if found:
        return int((now - int(found.group(1)) * {"d": 86400, "h": 3600, "m": 60}[found.group(2)]) * 1000)
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"--since {value!r}: give a duration (7d, 12h, 90m) or an ISO date or time") from None
    return int((when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp() * 1000)


def line(entry: AuditEntry) -> str:
    at = datetime.fromtimestamp(entry.at / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    params = json.dumps(entry.params, sort_keys=True, separators=(",", ":"))
    return f"{at}\t{entry.action}\t{entry.tenant}\t{entry.actor}\t{params}"
