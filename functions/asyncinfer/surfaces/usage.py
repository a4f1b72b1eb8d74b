"""GET /v1/usage: what the caller's tenant spent, by UTC day and model, with its totals and its budget."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query

from asyncinfer.domain.budgets import Period, UsageLine, UsageReport, period_label, renewal
from asyncinfer.domain.errors import ServiceUnavailable
from asyncinfer.surfaces.contract import Tasks, route
from asyncinfer.surfaces.edge import tenant_of
from asyncinfer.surfaces.shapes import obj

router = Router()
TAG = "Usage"

Day = Annotated[str | None, Query(json_schema_extra={"format": "date"})]

_MONEY = {"type": "number", "description": "US dollars, an exact sum of costs of at most eight decimals"}
_FIGURES = {
    "tasks": {"type": "integer", "description": "tasks charged: completed, or ended after producing output"},
    "cost": _MONEY,
    "prompt_tokens": {"type": "integer"},
    "completion_tokens": {"type": "integer"},
    "total_tokens": {"type": "integer"},
    "images": {"type": "integer"},
    "seconds": {"type": "number", "description": "of audio or video"},
}
_PERIOD = obj(
    period={"type": "string", "description": "the UTC day (2025-06-15) or month (2025-06) it is"},
    limit={**_MONEY, "type": ["number", "null"], "description": "US dollars; null: no limit"},
    spent=_MONEY,
    reserved={
        **_MONEY,
        "description": "US dollars held by work accepted and not yet ended (settled to its cost when it ends)",
    },
    remaining={"type": ["number", "null"], "description": "limit - spent - reserved, at least 0"},
    renews_at={"type": "string", "format": "date-time"},
)
USAGE = obj(
    object={"type": "string", "enum": ["usage"]},
    currency={"type": "string", "enum": ["usd"]},
    start={"type": "string", "format": "date"},
    end={"type": "string", "format": "date"},
    data={
        "type": "array",
        "items": obj(date={"type": "string", "format": "date"}, model={"type": "string"}, **_FIGURES),
    },
    models={"type": "array", "items": obj(model={"type": "string"}, **_FIGURES)},
    total=obj(**_FIGURES),
    budgets=obj(daily=_PERIOD, monthly=_PERIOD),
)


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
    ok=USAGE,
    description="The caller's tenant's completed tasks over days `start`..`end` (UTC, both included; this "
    "month by default, at most 366 days), summed per day and model from the registry's prices when each "
    "task completed, and the daily and monthly limits with what is spent in the current periods.",
)
def get_usage(svc: Tasks, start: Day = None, end: Day = None) -> dict:
    if svc.budgets is None:
        raise ServiceUnavailable("Usage is not served by this function")
    return render(svc.budgets.report(tenant_of(router), start, end))
