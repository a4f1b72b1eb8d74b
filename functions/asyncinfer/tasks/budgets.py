"""Budgets: the submit check (asyncinfer.domain.budgets.check_fit), a tenant's usage report, and the
administrator's limits. What a tenant spent is read from the usage lines its completions grow."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from datetime import date
from decimal import Decimal

from asyncinfer.domain.budgets import (
    Budget,
    Period,
    Spent,
    UsageReport,
    check_fit,
    day_of,
    known_cost,
    month_start,
    usage_range,
)
from asyncinfer.domain.catalog import ModelRegistry
from asyncinfer.domain.errors import InvalidRequest
from asyncinfer.domain.ids import TENANT_PATTERN
from asyncinfer.domain.model import now_ms
from asyncinfer.store.base import UsageStore
from asyncinfer.tasks.submission import Prepared


class Budgets:
    def __init__(
        self, store: UsageStore, registry: ModelRegistry | None = None, clock: Callable[[], int] = now_ms
    ) -> None:
        self.store = store
        self.registry = registry
        self.clock = clock

    def today(self) -> date:
        return day_of(self.clock())

    def spent(self, tenant: str, today: date, budget: Budget | None = None) -> Spent:
        """What the tenant spent today and this month (only today's lines when only a daily limit is set)."""
        first = today if budget is not None and budget.monthly is None else month_start(today)
        return Spent.from_lines(today, self.store.usage_lines(tenant, first, today))

    def check(self, tenant: str, requests: Sequence[Prepared]) -> None:
        """BudgetExceeded when `requests` (one submit, or a batch's items) do not fit in the tenant's budget.
        A tenant without limits costs one read."""
        budget = self.store.get_budget(tenant)
        if budget.empty:
            return
        today = self.today()
        check_fit(budget, self.spent(tenant, today, budget), sum(map(self.known_cost, requests), Decimal(0)))

    def known_cost(self, prepared: Prepared) -> Decimal:
        spec = self.registry.models.get(prepared.model) if self.registry is not None else None
        return known_cost(spec, prepared.kind, prepared.request) if spec is not None else Decimal(0)

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
        return UsageReport.of(first, last, lines, self.store.get_budget(tenant), spent)

    def set_limits(self, tenant: str, *, daily: Decimal | None = None, monthly: Decimal | None = None) -> Budget:
        _check_tenant(tenant)
        if daily is None and monthly is None:
            raise InvalidRequest("Give a daily or a monthly limit (or both)")
        return self.store.set_budget(tenant, Budget(daily=daily, monthly=monthly), at=self.clock())

    def clear_limits(self, tenant: str, periods: Iterable[Period] = (Period.DAILY, Period.MONTHLY)) -> Budget:
        _check_tenant(tenant)
        return self.store.clear_budget(tenant, [period.value for period in periods])


def _check_tenant(tenant: str) -> None:
    if not re.match(TENANT_PATTERN, tenant):
        raise InvalidRequest("tenant must be 1-63 of a-z, 0-9, '_' or '-', starting with a letter or digit")
