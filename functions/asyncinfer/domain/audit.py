"""An audit entry: one administrative action (asyncinfer.tasks.audit records them)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Action(StrEnum):
    KEY_CREATED = "key.created"
    KEY_REVOKED = "key.revoked"
    BUDGET_SET = "budget.set"
    BUDGET_CLEARED = "budget.cleared"
    CLASSES_SET = "tenant.classes.set"
    WAITING_SET = "tenant.waiting.set"


@dataclass(frozen=True)
class AuditEntry:
    at: int  # epoch milliseconds
    action: str
    tenant: str
    actor: str  # the caller's AWS identity (an ARN), or `local`
    params: dict[str, Any] = field(default_factory=dict)  # plain values: never a key or a secret
    entry_id: str = ""
