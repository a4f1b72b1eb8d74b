"""API keys: random, shown once, stored only as a SHA-256 hash that maps to a tenant."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Protocol

from asyncinfer.domain.errors import InvalidRequest
from asyncinfer.domain.ids import TENANT_PATTERN
from asyncinfer.domain.model import now_ms
from asyncinfer.store.base import ApiKeyRecord, TaskStore
from asyncinfer.store.dynamodb_tenants import KEY_ITEM_PREFIX, KEY_LIST_PREFIX
from asyncinfer.store.dynamodb_usage import usage_pk
from asyncinfer.tasks.audit import Action, Audit, audit_or_default

KEY_PREFIX = "ai_"
TENANT = re.compile(TENANT_PATTERN)
# A tenant's event logs are partitions `<tenant>#<task id>`: under these names they would fall among the
# partitions only the operator writes (keys, usage), where the functions behind the API may not write.
RESERVED_TENANTS = frozenset(p.removesuffix("#") for p in (KEY_ITEM_PREFIX, KEY_LIST_PREFIX, usage_pk("")["S"]))
# The routes whose clients may present their key as `x-api-key` (Anthropic's SDK sends no Authorization). API Gateway
# calls a REQUEST authorizer only when all its identity sources are present, so these routes' authorizer has none
# and no cache (infra/components/api.py), and the dev gateway does the same.
X_API_KEY_PATHS = ("/v1/messages/batches",)


def takes_x_api_key(resource_path: str) -> bool:
    return any(resource_path == p or resource_path.startswith(p + "/") for p in X_API_KEY_PATHS)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class UsagePlan(Protocol):
    def key_for(self, tenant: str) -> str:
        """The value of the tenant's key in the plan, created and attached on first use."""


def create_key(
    store: TaskStore,
    tenant: str,
    key: str | None = None,
    usage_plan: UsagePlan | None = None,
    expires_at: int | None = None,
    audit: Audit | None = None,
) -> str:
    """Store a key (a new random one unless given) for `tenant` and return it; only its hash is kept.
    With a usage plan, the record also names the tenant's key in it, which the authorizer hands to
    API Gateway so that all of the tenant's keys share one throttle. Audited (the operator's log unless given)."""
    if not TENANT.match(tenant):
        raise InvalidRequest("tenant must be 1-63 of a-z, 0-9, '_' or '-', starting with a letter or digit")
    if tenant in RESERVED_TENANTS:
        raise InvalidRequest(f"tenant {tenant!r} is reserved (the table's own partitions); choose another name")
    key = key or KEY_PREFIX + secrets.token_urlsafe(32)
    usage_key = usage_plan.key_for(tenant) if usage_plan else None
    record = ApiKeyRecord(
        key_hash=hash_key(key), tenant=tenant, created_at=now_ms(), usage_key=usage_key, expires_at=expires_at
    )
    store.put_api_key(record)
    audit_or_default(audit).record(Action.KEY_CREATED, tenant, key_id=record.key_id, expires_at=expires_at)
    return key


def revoke_key(store: TaskStore, tenant: str, key_id: str, audit: Audit | None = None) -> bool:
    """Stop the key from authenticating; False (and nothing audited) when the tenant has no such live key."""
    if not store.revoke_api_key(tenant, key_id, now_ms()):
        return False
    audit_or_default(audit).record(Action.KEY_REVOKED, tenant, key_id=key_id)
    return True


def authenticate(store: TaskStore, key: str | None) -> ApiKeyRecord | None:
    """The record of `key` (its tenant and usage-plan key), or None."""
    if not key or len(key) > 256:
        return None
    digest = hash_key(key)
    record = store.get_api_key(digest)
    if record is None or not hmac.compare_digest(record.key_hash, digest):
        return None
    if record.expires_at is not None and time.time() >= record.expires_at:
        return None  # expired: DynamoDB's TTL deletes it within days, not at once
    return record


def parse_expiry(value: str, now: float | None = None) -> int:
    """`30d`, `12h`, `90m` from now, or a date (2027-01-31) or time (2027-01-31T12:00:00Z): epoch seconds."""
    now = time.time() if now is None else now
    found = re.fullmatch(r"([1-9][0-9]{0,5})([dhm])", value)
    if found:
        return int(now + int(found.group(1)) * {"d": 86400, "h": 3600, "m": 60}[found.group(2)])
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidRequest(f"--expires {value!r}: give a duration (30d, 12h, 90m) or an ISO date or time") from None
    at = int((when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp())
    if at <= now:
        raise InvalidRequest(f"--expires {value!r} is in the past")
    return at


def bearer_token(authorization: str | None) -> str | None:
    """`Bearer <key>`, or the bare key (NetMind's examples send `Authorization: <key>`)."""
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    if not token and scheme.lower() != "bearer":
        return scheme
    if scheme.lower() != "bearer":
        return None
    return token.strip() or None


def presented_key(headers: Mapping[str, str] | None) -> str | None:
    """The key a request presents: `Authorization` (Bearer, or the bare key) when it is sent, else `x-api-key`."""
    sent = {name.lower(): value for name, value in (headers or {}).items() if isinstance(value, str)}
    if sent.get("authorization"):
        return bearer_token(sent["authorization"])
    return sent.get("x-api-key", "").strip() or None
