"""The audit log of administrative actions: API keys created and revoked, budgets set and cleared, a tenant's
classes and waiting quotas set. Each entry says when, what, for which tenant, who (the operator's AWS identity)
and with which parameters; never a key or a secret. Only the admin paths (the `asyncinfer` CLI, with the
operator's credentials) write it: no function's role may (infra/components/audit.py)."""

from __future__ import annotations

import ipaddress
import os
import secrets
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit

from asyncinfer.domain.audit import Action, AuditEntry
from asyncinfer.domain.model import now_ms

TABLE_ENV = "ASYNCINFER_AUDIT_TABLE_NAME"
# The actor of an action whose caller has no AWS identity to show: the local stack's emulator takes any.
LOCAL_ACTOR = "local"


class AuditLog(Protocol):
    def append(self, entry: AuditEntry) -> None: ...

    def entries(self, tenant: str | None = None, since: int = 0) -> list[AuditEntry]: ...


class Unaudited:
    """Where no audit table is named: the action is done, and the operator told it was not recorded."""

    def append(self, entry: AuditEntry) -> None:
        print(
            f"asyncinfer: {TABLE_ENV} is not set: {entry.action} for {entry.tenant!r} is not audited", file=sys.stderr
        )

    def entries(self, tenant: str | None = None, since: int = 0) -> list[AuditEntry]:
        return []


@dataclass
class Audit:
    log: AuditLog
    actor: Callable[[], str] = lambda: LOCAL_ACTOR
    clock: Callable[[], int] = now_ms

    def record(self, action: Action, tenant: str, **params: Any) -> AuditEntry:
        """After the action succeeded: its entry, appended. Parameters are plain values (no key, no secret)."""
        entry = AuditEntry(
            at=self.clock(),
            action=action.value,
            tenant=tenant,
            actor=self.actor(),
            params={name: value for name, value in params.items() if value is not None},
            entry_id=secrets.token_hex(4),
        )
        self.log.append(entry)
        return entry


def operator_audit(table: str | None = None) -> Audit:
    """The audit log the operator's admin commands write: the table named (or $ASYNCINFER_AUDIT_TABLE_NAME),
    with the caller's AWS identity as the actor."""
    import boto3

    from asyncinfer.store.dynamodb_audit import DynamoAuditLog

    table = table or os.environ.get(TABLE_ENV)
    if not table:
        return Audit(Unaudited())
    return Audit(DynamoAuditLog(boto3.client("dynamodb"), table), actor=lambda: caller_identity(boto3.client("sts")))


def caller_identity(sts: Any) -> str:
    """The ARN of the credentials in use (STS GetCallerIdentity needs no permission); `local` against the local
    stack's emulator (its identity is made up) or when STS cannot say."""
    from botocore.exceptions import BotoCoreError, ClientError

    if _loopback(os.environ.get("AWS_ENDPOINT_URL_STS") or os.environ.get("AWS_ENDPOINT_URL", "")):
        return LOCAL_ACTOR
    try:
        return sts.get_caller_identity()["Arn"]
    except (BotoCoreError, ClientError):
        return LOCAL_ACTOR


def _loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def audit_or_default(audit: Audit | None) -> Audit:
    return audit if audit is not None else operator_audit()
