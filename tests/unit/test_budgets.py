"""The budget's fit rule and its money: exact decimals, periods in UTC."""

from datetime import date
from decimal import Decimal

import pytest

from asyncinfer.api import openapi
from asyncinfer.domain.budgets import (
    Budget,
    Period,
    Spent,
    UsageLine,
    UsageReport,
    check_fit,
    day_of,
    dollars,
    known_cost,
    money,
    parse_limit,
    renewal,
    spend_of,
    usage_range,
)
from asyncinfer.domain.catalog import ModelSpec, Prices
from asyncinfer.domain.errors import BudgetExceeded, InvalidRequest
from asyncinfer.domain.model import Cost, TaskKind, Usage

TODAY = date(2025, 6, 15)
D = Decimal


def spent(daily="0", monthly="0") -> Spent:
    return Spent(today=TODAY, daily=D(daily), monthly=D(monthly))


@pytest.mark.parametrize(
    ("budget", "so_far", "cost", "refused"),
    [
        (Budget(), spent("1000", "1000"), D("5"), None),  # no limits: never refused
        (Budget(daily=D("1.00")), spent("0.99", "0.99"), D(0), None),
        (Budget(daily=D("1.00")), spent("1.00", "1.00"), D(0), "daily"),  # reached: spend >= limit
        (Budget(daily=D("1.00")), spent("1.02", "1.02"), D(0), "daily"),
        (Budget(daily=D("1.00")), spent("0.99", "0.99"), D("0.01"), None),  # lands exactly on the limit: fits
        (Budget(daily=D("1.00")), spent("0.99", "0.99"), D("0.02"), "daily"),  # known cost would pass it
        (Budget(monthly=D("10")), spent("0", "9.99999999"), D(0), None),
        (Budget(monthly=D("10")), spent("0", "10"), D(0), "monthly"),
        (Budget(daily=D("5"), monthly=D("10")), spent("5", "10"), D(0), "monthly"),  # the lasting one is named
        (Budget(daily=D("5"), monthly=D("10")), spent("5", "6"), D(0), "daily"),
        (Budget(daily=D("0")), spent(), D(0), "daily"),  # a zero limit refuses every submit
    ],
)
def test_the_fit_rule(budget, so_far, cost, refused):
    if refused is None:
        check_fit(budget, so_far, cost)
        return
    with pytest.raises(BudgetExceeded) as raised:
        check_fit(budget, so_far, cost)
    assert raised.value.period == refused
    assert raised.value.code == "budget_exceeded"
    assert raised.value.limit == budget.limit(raised.value.period)


def test_the_refusal_names_the_period_its_spend_and_its_limit():
    with pytest.raises(BudgetExceeded) as raised:
        check_fit(Budget(daily=D("1.00")), spent("1.02", "3"))
    assert raised.value.message.startswith(
        "This tenant's daily budget of $1.00 is spent: $1.02 so far today (2025-06-15, UTC)."
    )
    assert "renews at 2025-06-16T00:00:00Z" in raised.value.message
    with pytest.raises(BudgetExceeded) as raised:
        check_fit(Budget(monthly=D("100")), spent("0", "99.5"), D("0.75"))
    assert raised.value.message == (
        "This request's fixed price of $0.75 does not fit in this tenant's monthly budget of $100.00: "
        "$99.50 spent so far this month (2025-06, UTC)"
    )


@pytest.mark.parametrize(
    ("value", "shown"),
    [(D("1"), "$1.00"), (D("1.02"), "$1.02"), (D("0.00012"), "$0.00012"), (D("12.5"), "$12.50"), (D(0), "$0.00")],
)
def test_dollars(value, shown):
    assert dollars(value) == shown


def test_costs_sum_exactly_where_floats_do_not():
    costs = [0.1, 0.2, 0.00001044, 1e-08]
    assert sum(costs) != 0.30001045  # floats drift
    assert sum(map(money, costs)) == D("0.30001045")


def test_a_completion_spends_its_cost_on_the_utc_day_it_completed():
    usage = Usage(prompt_tokens=10, completion_tokens=20, total_tokens=30, cost=Cost(total_cost=0.00104))
    just_before_midnight = 1_750_031_999_999  # 2025-06-15T23:59:59.999Z
    line = spend_of("demo-chat", usage, just_before_midnight)
    assert (line.day, line.model, line.cost, line.tasks, line.total_tokens) == (
        TODAY,
        "demo-chat",
        D("0.00104"),
        1,
        30,
    )
    assert spend_of("demo-chat", usage, just_before_midnight + 1).day == date(2025, 6, 16)
    assert spend_of("m", Usage(images=2, cost=Cost(total_cost=0.08)), 0).images == 2


def test_spent_sums_the_month_and_today_only():
    lines = [
        UsageLine(day=date(2025, 5, 31), model="a", cost=D("7")),
        UsageLine(day=date(2025, 6, 1), model="a", cost=D("1.5")),
        UsageLine(day=TODAY, model="a", cost=D("0.25")),
        UsageLine(day=TODAY, model="b", cost=D("0.5")),
    ]
    assert Spent.from_lines(TODAY, lines) == Spent(TODAY, daily=D("0.75"), monthly=D("2.25"))


def test_the_known_cost_is_the_per_request_price_and_the_images_asked_for():
    chat = ModelSpec(provider="local", upstream="x", kind=TaskKind.CHAT, prices=Prices(per_request=0.01))
    image = ModelSpec(provider="local", upstream="x", kind=TaskKind.IMAGE, prices=Prices(per_image=0.04))
    assert known_cost(chat, TaskKind.CHAT, {"max_tokens": 100000}) == D("0.01")
    assert known_cost(image, TaskKind.IMAGE, {"config": {"prompt": "p", "num_images": 3}}) == D("0.12")
    assert known_cost(image, TaskKind.IMAGE, {"config": {"prompt": "p"}}) == D("0.04")


@pytest.mark.parametrize(
    ("value", "limit"),
    [("5", D("5.00")), ("5.00", D("5.00")), ("$0.25", D("0.25")), ("0.00000001", D("0.00000001")), ("0", D("0"))],
)
def test_parse_limit(value, limit):
    assert parse_limit(value) == limit


@pytest.mark.parametrize("value", ["-1", "five", "1e999999", "NaN", "0.000000001"])
def test_parse_limit_refuses(value):
    with pytest.raises(InvalidRequest):
        parse_limit(value)


def test_usage_range_defaults_to_this_month_and_is_bounded():
    assert usage_range(None, None, TODAY) == (date(2025, 6, 1), TODAY)
    assert usage_range("2025-01-01", "2025-01-31", TODAY) == (date(2025, 1, 1), date(2025, 1, 31))
    for start, end in (("2025-02-01", "2025-01-01"), ("2025-1-1", None), ("2024-01-01", "2025-06-01")):
        with pytest.raises(InvalidRequest):
            usage_range(start, end, TODAY)


def test_periods_renew_at_utc_midnight():
    assert renewal(Period.DAILY, TODAY) == "2025-06-16T00:00:00Z"
    assert renewal(Period.MONTHLY, TODAY) == "2025-07-01T00:00:00Z"
    assert renewal(Period.MONTHLY, date(2025, 12, 31)) == "2026-01-01T00:00:00Z"
    assert day_of(0) == date(1970, 1, 1)


def test_a_report_sums_by_model_and_in_total():
    lines = [
        UsageLine(day=TODAY, model="b", cost=D("0.1"), tasks=1, total_tokens=5),
        UsageLine(day=date(2025, 6, 1), model="a", cost=D("0.2"), tasks=2, total_tokens=7),
        UsageLine(day=TODAY, model="a", cost=D("0.00000001"), tasks=1, total_tokens=1),
    ]
    report = UsageReport.of(date(2025, 6, 1), TODAY, lines, Budget(), Spent(TODAY))
    assert [(line.day, line.model) for line in report.lines] == [
        (date(2025, 6, 1), "a"),
        (TODAY, "a"),
        (TODAY, "b"),
    ]
    assert [(m.model, m.cost, m.tasks) for m in report.by_model] == [("a", D("0.20000001"), 3), ("b", D("0.1"), 1)]
    assert (report.total.cost, report.total.tasks, report.total.total_tokens) == (D("0.30000001"), 4, 13)


SUBMITS = [
    "/v1/async",
    "/async/chat/completions",
    "/v1/async/sonar",
    "/v1/messages/async",
    "/v1/generation",
    "/v1/batches",
]


def test_the_openapi_document_has_get_v1_usage_and_the_402_of_every_submit():
    paths = openapi.document()["paths"]
    usage = paths["/v1/usage"]["get"]
    assert [(p["name"], p["in"], p["schema"]) for p in usage["parameters"]] == [
        ("start", "query", {"type": "string", "format": "date"}),
        ("end", "query", {"type": "string", "format": "date"}),
    ]
    shape = usage["responses"]["200"]["content"]["application/json"]["schema"]["properties"]
    assert {"start", "end", "data", "models", "total", "budgets"} <= set(shape)
    assert set(shape["budgets"]["properties"]) == {"daily", "monthly"}
    for path in SUBMITS:
        refused = paths[path]["post"]["responses"]["402"]
        assert "budget_exceeded" in refused["description"]
        assert refused["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}
    assert not any("402" in op["responses"] for item in paths.values() for m, op in item.items() if m == "get")
