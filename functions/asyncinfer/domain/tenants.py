"""A tenant's settings, set by its operator: its budget, the service classes it may use, and how many of its
tasks may wait in each. A tenant with no settings may use every class, and its waiting tasks are bounded
only by the deployment's in-flight cap (max_inflight_tasks, 1,000 by default)."""

from __future__ import annotations

from dataclasses import dataclass, field

from asyncinfer.domain.budgets import Budget
from asyncinfer.domain.errors import ClassNotAllowed, InvalidRequest, TooManyWaiting
from asyncinfer.domain.model import ServiceTier

# The most a waiting quota may be set to: far above any lane's useful backlog, a typo is refused.
MAX_WAITING = 1_000_000
WAITING_RETRY_SECONDS = 5


@dataclass(frozen=True)
class TenantSettings:
    budget: Budget = field(default_factory=Budget)
    classes: frozenset[ServiceTier] | None = None  # None: every class
    waiting: dict[ServiceTier, int] = field(default_factory=dict)  # a class not named: no quota of its own

    def check_class(self, tier: ServiceTier) -> None:
        """ClassNotAllowed (403) for a class this tenant may not use."""
        if self.classes is not None and tier not in self.classes:
            allowed = ", ".join(sorted(c.value for c in self.classes)) or "none"
            raise ClassNotAllowed(
                f"This tenant may not use the {tier.value} service class (it may use: {allowed}); "
                "its operator grants classes with `asyncinfer tenant set --classes`",
                service_tier=tier.value,
            )

    def check_waiting(self, tier: ServiceTier, waiting: int) -> None:
        """TooManyWaiting (429) when `waiting` of its tasks already wait in `tier` and that is its quota."""
        quota = self.waiting.get(tier)
        if quota is not None and waiting >= quota:
            raise TooManyWaiting(
                f"{waiting} of this tenant's {tier.value} tasks are already waiting to start (its quota is "
                f"{quota}); retry when some have started",
                retry_after=WAITING_RETRY_SECONDS,
            )


def parse_classes(value: str) -> frozenset[ServiceTier]:
    """`priority,default` as an operator writes it; `all` is every class."""
    if value.strip() == "all":
        return frozenset(ServiceTier)
    names = [name.strip() for name in value.split(",") if name.strip()]
    try:
        return frozenset(ServiceTier(name) for name in names)
    except ValueError:
        raise InvalidRequest(
            f"{value!r}: classes are a comma-separated list of {', '.join(t.value for t in ServiceTier)}, or all"
        ) from None


def parse_waiting(value: str) -> tuple[ServiceTier, int | None]:
    """`priority=50` (a quota) or `priority=none` (no quota of its own)."""
    name, _, count = value.partition("=")
    try:
        tier = ServiceTier(name.strip())
    except ValueError:
        raise InvalidRequest(f"{value!r}: give CLASS=COUNT, e.g. priority=50") from None
    if count.strip() == "none":
        return tier, None
    if not count.strip().isdigit() or int(count) > MAX_WAITING:
        raise InvalidRequest(f"{value!r}: a waiting quota is a whole number from 0 to {MAX_WAITING:,}, or none")
    return tier, int(count)
