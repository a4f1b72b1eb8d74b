"""Reservations: what accepting a request holds of its tenant's budget until the work ends and is settled to
its actual cost. Spent + reserved never passes a limit: a submit reserves in the same write that accepts it.

Known prices reserve exactly: per request, per image asked for, per second of audio or video asked for.
Token prices reserve an upper bound of one model turn: every prompt token at most one UTF-8 byte of the
messages' text (plus PROMPT_TOKENS_PER_MESSAGE for each message's framing) and every completion token up to
the request's `max_tokens`, or the model's `max_output_tokens` when it gives none. Further turns of a tool
loop or a long task are reserved one by one as they start (asyncinfer.tasks.metering)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from asyncinfer.domain.budgets import COST_PLACES, Budget, Period, UsageLine, day_of, money, spend_of
from asyncinfer.domain.catalog import ModelSpec
from asyncinfer.domain.model import Task, TaskKind, TaskStatus, Usage

PROMPT_TOKENS_PER_MESSAGE = 8
E8 = COST_PLACES


def to_e8(amount: Decimal) -> int:
    """Whole units of $0.00000001, the unit the ledger counts in."""
    return int(money(amount) / E8)


def from_e8(units: int) -> Decimal:
    return (Decimal(units) * E8).quantize(E8)


def prompt_bound(request: dict[str, Any]) -> int:
    """At most this many prompt tokens: a byte of text each, and each message's framing; an embeddings body's
    `input` (a text or a list of texts) likewise."""
    messages = request.get("messages") or []
    inputs = request.get("input")
    texts = [inputs] if isinstance(inputs, str) else inputs if isinstance(inputs, list) else []
    size = sum(len(str(text).encode()) for text in texts)
    for message in messages:
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, str):
            size += len(content.encode())
        elif isinstance(content, list):
            size += sum(len(str(part.get("text", "")).encode()) for part in content if isinstance(part, dict))
        size += PROMPT_TOKENS_PER_MESSAGE
    tools = request.get("tools")
    if tools:
        size += len(repr(tools).encode())
    return size


def turn_bound(spec: ModelSpec, request: dict[str, Any]) -> Decimal:
    """The most one model turn of `request` can cost in tokens."""
    prices = spec.prices
    if not prices.input_per_million and not prices.output_per_million:
        return Decimal(0)
    asked = request.get("max_tokens")
    completion = asked if isinstance(asked, int) and 0 < asked <= spec.max_output_tokens else spec.max_output_tokens
    price_in = Decimal(repr(prices.input_per_million)) * prompt_bound(request)
    price_out = Decimal(repr(prices.output_per_million)) * completion
    return money((price_in + price_out) / 1_000_000)


def reservation(spec: ModelSpec, kind: TaskKind, request: dict[str, Any]) -> Decimal:
    """What accepting `request` reserves: its known price exactly, its tokens' upper bound for one turn."""
    prices = spec.prices
    cost = Decimal(repr(prices.per_request))
    config = request.get("config") if isinstance(request.get("config"), dict) else {}
    if kind == TaskKind.IMAGE:
        count = config.get("num_images", 1)
        cost += Decimal(repr(prices.per_image)) * (count if isinstance(count, int) else 1)
    elif kind in (TaskKind.AUDIO, TaskKind.VIDEO):
        default = 10 if kind == TaskKind.AUDIO else 6
        seconds = config.get("duration", default)
        seconds = seconds if isinstance(seconds, int | float) and not isinstance(seconds, bool) else default
        cost += Decimal(repr(prices.per_second)) * Decimal(repr(seconds))
    else:
        cost += turn_bound(spec, request)
    return money(cost)


@dataclass(frozen=True)
class Hold:
    """A reservation to write beside the work it is for: `amount_e8` held in the periods of `day`, each
    refused when it would take spent + reserved past that period's limit (`budget`)."""

    day: date
    amount_e8: int
    budget: Budget

    def room_e8(self, period: Period) -> int | None:
        """The most spent + reserved may be before this hold fits (None: no limit). Negative: never fits."""
        limit = self.budget.limit(period)
        return None if limit is None else to_e8(limit) - self.amount_e8


@dataclass(frozen=True)
class Settlement:
    """The end of a reservation: `reserved_e8` released from the periods of `day`, `cost_e8` spent in them."""

    day: date
    reserved_e8: int
    cost_e8: int


@dataclass(frozen=True)
class Charge:
    """What ending a task charges: the usage it is charged (None: nothing), the line it grows, and the
    settlement of its reservation (None: neither reserved nor charged)."""

    usage: Usage | None
    line: UsageLine | None
    settlement: Settlement | None


def charged(usage: Usage | None) -> bool:
    """Whether there is anything to charge: a cost, tokens, images or seconds."""
    if usage is None:
        return False
    cost = usage.cost.total_cost if usage.cost is not None else 0
    return bool(cost or usage.total_tokens or usage.prompt_tokens or usage.completion_tokens) or bool(
        usage.images or usage.seconds
    )


def charge_of(task: Task, status: TaskStatus, usage: Usage | None, at_ms: int) -> Charge:
    """Ending `task` in `status` at `at_ms`: a completion is charged its `usage`, any other end what the task
    produced (its record's `produced`). Both count in the periods of the day that reserved the task, so a
    settlement after midnight lands where its reservation was held."""
    if usage is None and status != TaskStatus.COMPLETED:
        usage = task.produced
    if status != TaskStatus.COMPLETED and not charged(usage):
        usage = None
    day = date.fromisoformat(task.reserved_day) if task.reserved_day else day_of(at_ms)
    line = spend_of(task.model, usage, day) if usage is not None else None
    reserved = task.reserved_e8 or 0
    cost = to_e8(line.cost) if line is not None else 0
    return Charge(usage, line, Settlement(day, reserved, cost) if reserved or cost else None)


def reserved_fields(hold: Hold | None) -> dict[str, Any]:
    """The task's record of the reservation written with it."""
    return {} if hold is None else {"reserved_e8": hold.amount_e8, "reserved_day": hold.day.isoformat()}


def release_of(task: Task) -> Settlement | None:
    """The whole reservation of a task that never ran, given back."""
    if not task.reserved_e8 or not task.reserved_day:
        return None
    return Settlement(date.fromisoformat(task.reserved_day), task.reserved_e8, 0)
