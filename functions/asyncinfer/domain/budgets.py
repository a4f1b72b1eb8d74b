"""Budgets: a tenant's spending limits per UTC day and month, what it has spent, and the rule that decides whether a
submit still fits. Money is Decimal here: every task's cost has at most eight decimals, so sums of them are exact."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from enum import StrEnum

from asyncinfer.domain.errors import InvalidRequest
from asyncinfer.domain.model import Usage

CENTS = Decimal("0.01")
# Prices make costs of at most eight decimals (asyncinfer.domain.catalog.Prices.cost).
COST_PLACES = Decimal("0.00000001")
MAX_LIMIT = 1_000_000_000  # Far above any budget: a mistyped limit is refused rather than stored.
MAX_USAGE_DAYS = 366  # GET /v1/usage reads at most this many days at once.


class Period(StrEnum):
    DAILY = "daily"
    MONTHLY = "monthly"


def day_of(at_ms: int) -> date:
    """The UTC day of an epoch-milliseconds time."""
    return datetime.fromtimestamp(at_ms / 1000, UTC).date()


def period_label(period: Period, today: date) -> str:
    """The period containing `today`, as reads name it: 2025-06-15 or 2025-06."""
    return today.isoformat() if period == Period.DAILY else today.isoformat()[:7]


def money(value: float | Decimal) -> Decimal:
    """A cost as an exact decimal of at most eight places (a float cost is read as it prints)."""
    return Decimal(repr(value) if isinstance(value, float) else value).quantize(COST_PLACES)


def dollars(value: Decimal) -> str:
    """$1.00, $1.02, $0.00012: cents always, further places only when there are any."""
    whole, _, places = format(value.quantize(COST_PLACES).normalize(), "f").partition(".")
    return f"${whole}.{places.ljust(2, '0')}"


def parse_limit(value: str) -> Decimal:
    """A limit in US dollars as an administrator writes it: 5, 5.00, 0.25 (at most eight decimals)."""
    try:
        limit = Decimal(value.strip().removeprefix("$"))
    except InvalidOperation:
        raise InvalidRequest(f"{value!r} is not an amount of US dollars (e.g. 5.00)") from None
    if not limit.is_finite() or limit < 0 or limit > MAX_LIMIT:
        raise InvalidRequest(f"{value!r}: a limit is from 0 to {MAX_LIMIT:,} US dollars")
    if limit != limit.quantize(COST_PLACES):
        raise InvalidRequest(f"{value!r}: at most eight decimals")
    return limit.quantize(CENTS) if limit == limit.quantize(CENTS) else limit


@dataclass(frozen=True)
class Budget:
    """A tenant's limits in US dollars; None: no limit for that period."""

    daily: Decimal | None = None
    monthly: Decimal | None = None

    def limit(self, period: Period) -> Decimal | None:
        return self.daily if period == Period.DAILY else self.monthly

    @property
    def empty(self) -> bool:
        return self.daily is None and self.monthly is None


@dataclass(frozen=True)
class UsageLine:
    """What one model's completed tasks cost a tenant on one UTC day (or, for a single task, its own)."""

    day: date
    model: str
    cost: Decimal = Decimal(0)
    tasks: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    images: int = 0
    seconds: Decimal = Decimal(0)

    def __add__(self, other: UsageLine) -> UsageLine:
        return UsageLine(
            day=self.day,
            model=self.model,
            cost=self.cost + other.cost,
            tasks=self.tasks + other.tasks,
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            completion_tokens=self.completion_tokens + other.completion_tokens,
            total_tokens=self.total_tokens + other.total_tokens,
            images=self.images + other.images,
            seconds=self.seconds + other.seconds,
        )


def spend_of(model: str, usage: Usage, day: date) -> UsageLine:
    """A charged task's usage, as it is added to its tenant's line of `day` (the day that reserved it)."""
    cost = usage.cost.total_cost if usage.cost is not None else 0.0
    return UsageLine(
        day=day,
        model=model,
        cost=money(cost),
        tasks=1,
        prompt_tokens=usage.prompt_tokens,
        completion_tokens=usage.completion_tokens,
        total_tokens=usage.total_tokens,
        images=usage.images or 0,
        seconds=Decimal(repr(usage.seconds or 0.0)),
    )


@dataclass(frozen=True)
class Spent:
    """What a tenant has spent in the periods containing `today`."""

    today: date
    daily: Decimal = Decimal(0)
    monthly: Decimal = Decimal(0)

    def of(self, period: Period) -> Decimal:
        return self.daily if period == Period.DAILY else self.monthly

    @classmethod
    def from_lines(cls, today: date, lines: list[UsageLine]) -> Spent:
        """Sums the lines of `today`'s month (and of `today` itself); other days' lines are ignored."""
        month = [line for line in lines if (line.day.year, line.day.month) == (today.year, today.month)]
        return cls(
            today=today,
            daily=sum((line.cost for line in month if line.day == today), Decimal(0)),
            monthly=sum((line.cost for line in month), Decimal(0)),
        )


def renewal(period: Period, today: date) -> str:
    """When the period after `today`'s begins: 2025-06-16T00:00:00Z."""
    if period == Period.DAILY:
        nxt = today + timedelta(days=1)
    else:
        nxt = date(today.year + today.month // 12, today.month % 12 + 1, 1)
    return f"{nxt.isoformat()}T00:00:00Z"


def month_start(today: date) -> date:
    return today.replace(day=1)


def parse_day(value: str, name: str) -> date:
    try:
        if len(value) != 10:
            raise ValueError
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidRequest(f"{name} {value!r} is not a date (YYYY-MM-DD)") from None


def usage_range(start: str | None, end: str | None, today: date) -> tuple[date, date]:
    """GET /v1/usage's days, both included: this month up to today unless given."""
    first = parse_day(start, "start") if start is not None else month_start(today)
    last = parse_day(end, "end") if end is not None else max(today, first)
    if last < first:
        raise InvalidRequest(f"end {last.isoformat()} is before start {first.isoformat()}")
    if (last - first).days >= MAX_USAGE_DAYS:
        raise InvalidRequest(f"At most {MAX_USAGE_DAYS} days at once; ask for the rest separately")
    return first, last


@dataclass(frozen=True)
class UsageReport:
    """A tenant's usage over days `start`..`end` (UTC, both included), with its budget's state today."""

    start: date
    end: date
    lines: list[UsageLine]
    budget: Budget
    spent: Spent
    by_model: list[UsageLine] = field(default_factory=list)
    total: UsageLine | None = None
    # Held by work accepted and not yet ended, in the periods containing `spent.today`.
    reserved: dict[Period, Decimal] = field(default_factory=dict)

    @classmethod
    def of(
        cls,
        start: date,
        end: date,
        lines: list[UsageLine],
        budget: Budget,
        spent: Spent,
        reserved: dict[Period, Decimal] | None = None,
    ) -> UsageReport:
        lines = sorted(lines, key=lambda line: (line.day, line.model))
        models: dict[str, UsageLine] = {}
        for line in lines:
            models[line.model] = models.get(line.model, UsageLine(day=start, model=line.model)) + line
        total = sum(lines, UsageLine(day=start, model=""))
        by_model = sorted(models.values(), key=lambda m: m.model)
        return cls(start, end, lines, budget, spent, by_model, total, reserved or {})
