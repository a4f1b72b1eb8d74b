"""Budgets: what a submit reserves (asyncinfer.domain.reservations), a tenant's usage report, and the
administrator's limits. What a tenant spent is read from the usage lines its completions grow."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence, Set
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from asyncinfer.domain.budgets import (
    Budget,
    Period,
    Spent,
    UsageReport,
    day_of,
    dollars,
    month_start,
    period_label,
    renewal,
    usage_range,
)
from asyncinfer.domain.catalog import ModelRegistry
from asyncinfer.domain.errors import BudgetExceeded, InvalidRequest
from asyncinfer.domain.ids import TENANT_PATTERN
from asyncinfer.domain.model import ServiceTier, now_ms
from asyncinfer.domain.reservations import Hold, from_e8, reservation, to_e8
from asyncinfer.domain.submission import Prepared
from asyncinfer.store.base import HoldRefused, UsageStore
from asyncinfer.tasks.audit import Action, Audit, audit_or_default


@dataclass
class Budgets:
    store: UsageStore
    registry: ModelRegistry | None = None
    clock: Callable[[], int] = now_ms
    # Where setting and clearing limits (the operator's actions) are recorded: the operator's log unless given.
    audit: Audit | None = None

    def today(self) -> date:
        return day_of(self.clock())

    def spent(self, tenant: str, today: date, budget: Budget | None = None) -> Spent:
        """What the tenant spent today and this month (only today's lines when only a daily limit is set)."""
        first = today if budget is not None and budget.monthly is None else month_start(today)
        return Spent.from_lines(today, self.store.usage_lines(tenant, first, today))

    def hold(
        self,
        tenant: str,
        requests: Sequence[Prepared],
        budget: Budget | None = None,
        batch_priced: Set[int] = frozenset(),
        tier: ServiceTier | None = None,
    ) -> Hold | None:
        """What accepting `requests` (one submit, or a batch's items) reserves of the tenant's budget (read
        unless given), to be written with them; None when they cost nothing. The requests at the positions
        `batch_priced` go up in a provider batch job: they reserve at the model's batch price. With `tier`, every
        request reserves at that class's price rather than its own (a `complete_by` item's dearest class)."""
        amount = sum(self.reservation_e8(ready, n in batch_priced, tier) for n, ready in enumerate(requests))
        if amount <= 0:
            return None
        return Hold(self.today(), amount, budget if budget is not None else self.store.get_budget(tenant))

    def reservation_e8(self, prepared: Prepared, batch_priced: bool = False, tier: ServiceTier | None = None) -> int:
        spec = self.registry.models.get(prepared.model) if self.registry is not None else None
        if spec is None or self.registry is None:
            return 0
        spec = self.registry.for_tier(spec, tier or prepared.fields.get("service_tier", ServiceTier.DEFAULT))
        if batch_priced and spec.batch_prices is not None:
            spec = self.registry.at_batch_prices(spec)
        return to_e8(reservation(spec, prepared.kind, prepared.request))

    def refused(self, hold: Hold, refusal: HoldRefused) -> BudgetExceeded:
        """The 402 of a reservation that did not fit: its period, what is spent and reserved, the limit."""
        period = refusal.period
        limit = hold.budget.limit(period) or Decimal(0)
        spent, reserved = from_e8(refusal.held_e8 - refusal.reserved_e8), from_e8(refusal.reserved_e8)
        return BudgetExceeded(
            f"This request reserves {dollars(from_e8(hold.amount_e8))}, which does not fit in this tenant's "
            f"{period.value} budget of {dollars(limit)} ({period_label(period, hold.day)}, UTC): {dollars(spent)} "
            f"spent and {dollars(reserved)} reserved by work still running. GET /v1/usage shows both; the period "
            f"renews at {renewal(period, hold.day)}",
            period=period.value,
            spent=spent,
            limit=limit,
            reserved=reserved,
        )

    def report(self, tenant: str, start: str | None = None, end: str | None = None) -> UsageReport:
        """Cost and tokens by day and model over `start`..`end` (this month by default), with the budget."""
        today = self.today()
        first, last = usage_range(start, end, today)
        lines = self.store.usage_lines(tenant, first, last)
        # The period figures need this month's lines: read them again only when the range does not hold them.
        if first <= month_start(today) and today <= last:
            spent = Spent.from_lines(today, lines)
        else:
            spent = self.spent(tenant, today)
        reserved = {period: from_e8(f.reserved_e8) for period, f in self.store.ledger(tenant, today).items()}
        return UsageReport.of(first, last, lines, self.store.get_budget(tenant), spent, reserved)

    def set_limits(self, tenant: str, *, daily: Decimal | None = None, monthly: Decimal | None = None) -> Budget:
        check_tenant(tenant)
        if daily is None and monthly is None:
            raise InvalidRequest("Give a daily or a monthly limit (or both)")
        budget = self.store.set_budget(tenant, Budget(daily=daily, monthly=monthly), at=self.clock())
        given = {"daily": daily, "monthly": monthly}
        audit_or_default(self.audit).record(
            Action.BUDGET_SET, tenant, **{name: str(limit) for name, limit in given.items() if limit is not None}
        )
        return budget

    def clear_limits(self, tenant: str, periods: Iterable[Period] = (Period.DAILY, Period.MONTHLY)) -> Budget:
        check_tenant(tenant)
        cleared = [period.value for period in periods]
        budget = self.store.clear_budget(tenant, cleared)
        audit_or_default(self.audit).record(Action.BUDGET_CLEARED, tenant, periods=sorted(cleared))
        return budget


def check_tenant(tenant: str) -> None:
    if not re.match(TENANT_PATTERN, tenant):
        raise InvalidRequest("tenant must be 1-63 of a-z, 0-9, '_' or '-', starting with a letter or digit")
