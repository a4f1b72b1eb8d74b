"""The budget's fit rule and its money: exact decimals, periods in UTC."""

from datetime import date
from decimal import Decimal

import pytest

from asyncinfer.domain.budgets import (
    Budget,
    Period,
    Spent,
    UsageLine,
    UsageReport,
    day_of,
    dollars,
    money,
    parse_limit,
    renewal,
    spend_of,
    usage_range,
)
from asyncinfer.domain.catalog import ModelSpec, Prices
from asyncinfer.domain.errors import InvalidRequest
from asyncinfer.domain.model import Cost, Task, TaskKind, TaskStatus, Usage
from asyncinfer.domain.reservations import Hold, Settlement, charge_of, prompt_bound, reservation, to_e8
from asyncinfer.surfaces import docs
from tests.support.openapi import answer_schema

TODAY = date(2025, 6, 15)
D = Decimal


def spent(daily="0", monthly="0") -> Spent:
    return Spent(today=TODAY, daily=D(daily), monthly=D(monthly))


@pytest.mark.parametrize(
    ("budget", "amount", "room"),
    [
        (Budget(), D("5"), {Period.DAILY: None, Period.MONTHLY: None}),  # no limits: never refused
        (Budget(daily=D("1.00")), D("0.01"), {Period.DAILY: 99_000_000, Period.MONTHLY: None}),
        (Budget(daily=D("1.00"), monthly=D("10")), D("1.00"), {Period.DAILY: 0, Period.MONTHLY: 900_000_000}),
        (Budget(daily=D("1.00")), D("1.02"), {Period.DAILY: -2_000_000, Period.MONTHLY: None}),  # never fits
        (Budget(daily=D("0")), D("0.00000001"), {Period.DAILY: -1, Period.MONTHLY: None}),
    ],
)
def test_a_hold_fits_while_spent_plus_reserved_is_at_most_its_room(budget, amount, room):
    """The ledger's condition is held_e8 <= room: spent + reserved + amount never passes the limit."""
    hold = Hold(TODAY, to_e8(amount), budget)
    assert {period: hold.room_e8(period) for period in Period} == room


def test_known_prices_reserve_exactly():
    chat = ModelSpec(provider="local", upstream="x", kind=TaskKind.CHAT, prices=Prices(per_request=0.01))
    image = ModelSpec(provider="local", upstream="x", kind=TaskKind.IMAGE, prices=Prices(per_image=0.04))
    audio = ModelSpec(provider="local", upstream="x", kind=TaskKind.AUDIO, prices=Prices(per_second=0.001))
    assert reservation(chat, TaskKind.CHAT, {"max_tokens": 100000}) == D("0.01")
    assert reservation(image, TaskKind.IMAGE, {"config": {"prompt": "p", "num_images": 3}}) == D("0.12")
    assert reservation(image, TaskKind.IMAGE, {"config": {"prompt": "p"}}) == D("0.04")
    assert reservation(audio, TaskKind.AUDIO, {"config": {"prompt": "p", "duration": 12.5}}) == D("0.0125")
    assert reservation(audio, TaskKind.AUDIO, {"config": {"prompt": "p"}}) == D("0.01")  # its default 10 s


def test_token_prices_reserve_one_turns_upper_bound():
    """Every prompt token at most a byte (plus 8 a message), every completion token up to max_tokens, or the
    model's cap without it."""
    spec = ModelSpec(
        provider="local",
        upstream="x",
        kind=TaskKind.CHAT,
        max_output_tokens=1000,
        prices=Prices(input_per_million=3.0, output_per_million=15.0),
    )
    body = {"messages": [{"role": "user", "content": "héllo"}]}  # 6 bytes + 8
    assert prompt_bound(body) == 14
    assert reservation(spec, TaskKind.CHAT, body) == money(D(14 * 3 + 1000 * 15) / 1_000_000)
    assert reservation(spec, TaskKind.CHAT, {**body, "max_tokens": 10}) == money(D(14 * 3 + 10 * 15) / 1_000_000)


def test_an_embeddings_body_reserves_a_token_for_every_byte_of_its_input():
    """An embeddings batch at a tenant's limit is refused at its submit, like a chat one: its texts are bounded
    as a prompt's are (they were not, so it reserved its per-request price alone)."""
    spec = ModelSpec(
        provider="local", upstream="x", kind=TaskKind.EMBEDDING, dimensions=8, prices=Prices(input_per_million=2.0)
    )
    assert prompt_bound({"input": "héllo"}) == 6
    assert prompt_bound({"input": ["abc", "de"]}) == 5
    assert reservation(spec, TaskKind.EMBEDDING, {"input": ["abc", "de"]}) >= money(D(5 * 2) / 1_000_000)


def test_an_end_charges_what_was_produced_in_the_day_that_reserved_it():
    task = Task(
        id="t",
        tenant="a",
        kind=TaskKind.CHAT,
        model="m",
        created_at=0,
        updated_at=0,
        reserved_e8=1_000_000,
        reserved_day="2025-06-15",
        produced=Usage(completion_tokens=40, total_tokens=40, cost=Cost(total_cost=0.0006)),
    )
    after_midnight = 1_750_032_000_000  # 2025-06-16T00:00:00Z
    cancelled = charge_of(task, TaskStatus.CANCELLED, None, after_midnight)
    assert cancelled.usage == task.produced
    assert (cancelled.line.day, cancelled.line.cost, cancelled.line.tasks) == (TODAY, D("0.0006"), 1)
    assert cancelled.settlement == Settlement(TODAY, 1_000_000, 60_000)
    completed = charge_of(task, TaskStatus.COMPLETED, Usage(cost=Cost(total_cost=0.002)), after_midnight)
    assert completed.settlement == Settlement(TODAY, 1_000_000, 200_000)
    nothing = charge_of(task.model_copy(update={"produced": None}), TaskStatus.FAILED, None, after_midnight)
    assert (nothing.usage, nothing.line, nothing.settlement) == (None, None, Settlement(TODAY, 1_000_000, 0))
    free = task.model_copy(update={"produced": None, "reserved_e8": None, "reserved_day": None})
    assert charge_of(free, TaskStatus.CANCELLED, None, after_midnight).settlement is None


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


def test_a_charge_is_a_line_of_its_day():
    usage = Usage(prompt_tokens=10, completion_tokens=20, total_tokens=30, cost=Cost(total_cost=0.00104))
    line = spend_of("demo-chat", usage, TODAY)
    assert (line.day, line.model, line.cost, line.tasks, line.total_tokens) == (TODAY, "demo-chat", D("0.00104"), 1, 30)
    assert day_of(1_750_031_999_999) == TODAY  # 2025-06-15T23:59:59.999Z
    assert day_of(1_750_032_000_000) == date(2025, 6, 16)
    assert spend_of("m", Usage(images=2, cost=Cost(total_cost=0.08)), TODAY).images == 2


def test_spent_sums_the_month_and_today_only():
    lines = [
        UsageLine(day=date(2025, 5, 31), model="a", cost=D("7")),
        UsageLine(day=date(2025, 6, 1), model="a", cost=D("1.5")),
        UsageLine(day=TODAY, model="a", cost=D("0.25")),
        UsageLine(day=TODAY, model="b", cost=D("0.5")),
    ]
    assert Spent.from_lines(TODAY, lines) == Spent(TODAY, daily=D("0.75"), monthly=D("2.25"))


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
    paths = docs.document()["paths"]
    usage = paths["/v1/usage"]["get"]
    assert [(p["name"], p["in"], p["schema"]) for p in usage["parameters"]] == [
        ("start", "query", {"type": "string", "format": "date"}),
        ("end", "query", {"type": "string", "format": "date"}),
    ]
    shape = answer_schema(docs.document(), "GET", "/v1/usage")["properties"]
    assert {"start", "end", "data", "models", "total", "budgets"} <= set(shape)
    assert set(answer_schema(docs.document(), "GET", "/v1/usage", "budgets")["properties"]) == {"daily", "monthly"}
    for path in SUBMITS:
        refused = paths[path]["post"]["responses"]["402"]
        assert "budget_exceeded" in refused["description"]
        assert refused["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}
    assert not any("402" in op["responses"] for item in paths.values() for m, op in item.items() if m == "get")
