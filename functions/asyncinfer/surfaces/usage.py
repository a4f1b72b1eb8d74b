"""GET /v1/usage: what the caller's tenant spent, by UTC day and model, with its totals and its budget."""

from __future__ import annotations

import datetime
from decimal import Decimal
from functools import cache
from typing import Annotated, Any, Literal

from pydantic import Field

from asyncinfer.domain.budgets import Period, UsageLine, UsageReport, period_label, renewal
from asyncinfer.domain.errors import ServiceUnavailable
from asyncinfer.surfaces.answers import absent, answer, later
from asyncinfer.surfaces.contract import Tasks, route
from asyncinfer.surfaces.edge import tenant_of
from asyncinfer.surfaces.routing import Query, Router

router = Router()
TAG = "Usage"

Day = Annotated[str | None, Query(json_schema_extra={"format": "date"})]

Money = Annotated[float, Field(description="US dollars, an exact sum of costs of at most eight decimals")]


@cache
def answers() -> dict[str, Any]:
    """This surface's answer models (asyncinfer.surfaces.answers: made when the document is)."""
    Figures = answer(
        "Figures",
        tasks=(int | None, absent("tasks charged: completed, or ended after producing output")),
        cost=(Money | None, None),
        **dict.fromkeys(("prompt_tokens", "completion_tokens", "total_tokens", "images"), (int | None, None)),
        seconds=(float | None, absent("of audio or video")),
    )
    ModelUsage = answer("ModelUsage", Figures, model=str)
    Budget = answer(
        "BudgetPeriod",
        period=(str, Field(description="the UTC day (2025-06-15) or month (2025-06) it is")),
        limit=(float | None, Field(description="US dollars; null: no limit")),
        spent=Money,
        reserved=(
            float,
            Field(description="US dollars held by work accepted and not yet ended (settled to its cost when it ends)"),
        ),
        remaining=(float | None, Field(description="limit - spent - reserved, at least 0")),
        renews_at=datetime.datetime,
    )
    Usage = answer(
        "Usage",
        object=Literal["usage"],
        currency=Literal["usd"],
        start=datetime.date,
        end=datetime.date,
        data=list[answer("DayUsage", ModelUsage, date=datetime.date)],
        models=list[ModelUsage],
        total=(Figures, Field(description="Empty while nothing was charged")),
        budgets=answer("Budgets", daily=Budget, monthly=Budget),
    )
    return {"Usage": Usage}


(Usage,) = later(answers, "Usage")


def _number(value: Decimal) -> float | int:
    # Exact as JSON: a sum of costs of eight decimals has far fewer than a double's 15 significant digits.
    return int(value) if value == value.to_integral_value() else float(value)


def _figures(line: UsageLine) -> dict[str, Any]:
    return {
        "tasks": line.tasks,
        "cost": _number(line.cost),
        "prompt_tokens": line.prompt_tokens,
        "completion_tokens": line.completion_tokens,
        "total_tokens": line.total_tokens,
        "images": line.images,
        "seconds": _number(line.seconds),
    }


def render(report: UsageReport) -> dict[str, Any]:
    today = report.spent.today
    budgets = {}
    for period in Period:
        limit, spent = report.budget.limit(period), report.spent.of(period)
        reserved = report.reserved.get(period, Decimal(0))
        budgets[period.value] = {
            "period": period_label(period, today),
            "limit": None if limit is None else _number(limit),
            "spent": _number(spent),
            "reserved": _number(reserved),
            "remaining": None if limit is None else _number(max(limit - spent - reserved, Decimal(0))),
            "renews_at": renewal(period, today),
        }
    return {
        "object": "usage",
        "currency": "usd",
        "start": report.start.isoformat(),
        "end": report.end.isoformat(),
        "data": [{"date": line.day.isoformat(), "model": line.model, **_figures(line)} for line in report.lines],
        "models": [{"model": line.model, **_figures(line)} for line in report.by_model],
        "total": _figures(report.total) if report.total is not None else {},
        "budgets": budgets,
    }


@route(
    router,
    "GET",
    "/v1/usage",
    "Cost and tokens by day and model, with the budget",
    TAG,
    ok=Usage,
    description="The caller's tenant's completed tasks over days `start`..`end` (UTC, both included; this "
    "month by default, at most 366 days), summed per day and model from the registry's prices when each "
    "task completed, and the daily and monthly limits with what is spent in the current periods.",
)
def get_usage(svc: Tasks, start: Day = None, end: Day = None) -> dict:
    if svc.budgets is None:
        raise ServiceUnavailable("Usage is not served by this function")
    return render(svc.budgets.report(tenant_of(router), start, end))
