"""`asyncinfer tenant show|set`: the service classes a tenant may use and how many of its tasks may wait in
each (asyncinfer.domain.tenants), beside `asyncinfer budget` for its spending limits."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from asyncinfer.domain.model import ServiceTier, now_ms
from asyncinfer.domain.tenants import TenantSettings, parse_classes, parse_waiting
from asyncinfer.tasks.audit import Action, Audit, audit_or_default
from asyncinfer.tasks.budgets import check_tenant


def apply(
    store: Any, tenant: str, classes: str | None, waiting: Sequence[str], audit: Audit | None = None
) -> TenantSettings:
    """Set what is given (InvalidRequest for a malformed value, before anything is written), each change
    audited (the operator's log unless given); the settings after it."""
    check_tenant(tenant)
    chosen = None if classes is None else parse_classes(classes)
    quotas = [parse_waiting(value) for value in waiting]
    log = audit_or_default(audit)
    if chosen is not None:
        allowed = None if chosen == frozenset(ServiceTier) else chosen
        store.set_classes(tenant, allowed, at=now_ms())
        shown = "all" if allowed is None else sorted(c.value for c in allowed)
        log.record(Action.CLASSES_SET, tenant, classes=shown)
    for tier, quota in quotas:
        store.set_waiting(tenant, tier, quota, at=now_ms())
        log.record(Action.WAITING_SET, tenant, service_class=tier.value, quota="none" if quota is None else quota)
    return store.get_settings(tenant)


def lines(settings: TenantSettings) -> list[str]:
    """One line a class: may it be used, and its waiting quota."""
    out = []
    for tier in ServiceTier:
        allowed = settings.classes is None or tier in settings.classes
        quota = settings.waiting.get(tier)
        waiting = f"waiting at most {quota}" if quota is not None else "waiting: the in-flight cap"
        out.append(f"{tier.value}\t{'allowed' if allowed else 'not allowed'}\t{waiting}")
    return out
