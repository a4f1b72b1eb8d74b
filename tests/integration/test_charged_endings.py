"""An ending charges the task as its condition proves it is: the store's own last write is its first guess (no
read), and a guess another writer made stale is caught by the condition, read, and charged as it is now."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from asyncinfer.domain.budgets import day_of
from asyncinfer.domain.model import Cost, Task, TaskKind, TaskStatus, Usage, new_task_id, now_ms, sources_of
from asyncinfer.store.base import ConditionFailed
from asyncinfer.store.dynamodb import DynamoTaskStore

pytestmark = pytest.mark.integration
S = TaskStatus


class CountingReads:
    """The DynamoDB client, counting GetItem calls."""

    def __init__(self, client: Any) -> None:
        self._client, self.reads = client, 0

    def get_item(self, **kwargs: Any) -> Any:
        self.reads += 1
        return self._client.get_item(**kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


def usage(cost: float, tokens: int) -> Usage:
    return Usage(completion_tokens=tokens, total_tokens=tokens, cost=Cost(total_cost=cost))


def running(aws) -> tuple[DynamoTaskStore, CountingReads, Task]:
    """A task claimed through a store of its own (a worker's), which has also written what it produced."""
    client = CountingReads(aws.ddb)
    store = DynamoTaskStore(client, aws.resources.table_name)
    at = now_ms()
    task = Task(id=new_task_id(at), tenant="acme", kind=TaskKind.CHAT, model="demo-chat", created_at=at, updated_at=at)
    aws.store.create(task)
    claimed = store.transition(
        "acme",
        task.id,
        expect=sources_of(S.IN_PROGRESS),
        attempt=0,
        lease_expired_at=at,
        changes={"status": S.IN_PROGRESS, "attempt": 1, "lease_expires_at": at + 60_000, "started_at": at},
    )
    mine = {"expect": {S.IN_PROGRESS}, "attempt": 1}
    store.transition("acme", task.id, **mine, changes={"produced": usage(0.25, 5), "updated_at": now_ms()})
    client.reads = 0
    return store, client, claimed


def spent(aws) -> Decimal:
    today = day_of(now_ms())
    return sum((line.cost for line in aws.store.usage_lines("acme", today, today)), Decimal(0))


def test_a_workers_completion_is_charged_without_reading_the_task(aws):
    store, client, task = running(aws)
    now = now_ms()
    ended = store.transition(
        "acme",
        task.id,
        expect={S.IN_PROGRESS},
        attempt=1,
        changes={"status": S.COMPLETED, "completed_at": now, "updated_at": now, "usage": usage(0.5, 10)},
        remove=["lease_expires_at"],
    )
    assert client.reads == 0
    assert (ended.status, ended.usage.cost.total_cost, ended.lease_expires_at, ended.produced) == (
        S.COMPLETED,
        0.5,
        None,
        None,
    )
    stored = aws.store.get("acme", task.id)
    assert (stored.status, stored.usage, stored.started_at) == (S.COMPLETED, ended.usage, task.started_at)
    assert spent(aws) == Decimal("0.5")


def test_an_ending_whose_guess_another_writer_made_stale_charges_the_task_as_it_is(aws):
    store, client, task = running(aws)
    # Another instance (a re-flush, a reservation's rise) changes what the task produced since this store wrote it.
    aws.store.transition(
        "acme",
        task.id,
        expect={S.IN_PROGRESS},
        attempt=1,
        changes={"produced": usage(0.75, 15), "updated_at": now_ms()},
    )
    now = now_ms()
    failed = store.transition(
        "acme",
        task.id,
        expect={S.IN_PROGRESS},
        attempt=1,
        changes={"status": S.FAILED, "failed_at": now, "updated_at": now},
        remove=["lease_expires_at"],
    )
    assert client.reads == 1  # the stale guess failed its condition: read once, then charged
    assert failed.usage.cost.total_cost == 0.75
    assert spent(aws) == Decimal("0.75")


def test_an_ending_guessed_from_a_task_cancelled_since_is_refused_and_charges_nothing_more(aws):
    store, _, task = running(aws)
    cancelled = aws.store.transition(
        "acme",
        task.id,
        expect=sources_of(S.CANCELLED),
        changes={"status": S.CANCELLED, "cancelled_at": now_ms(), "updated_at": now_ms()},
    )
    assert cancelled.usage.cost.total_cost == 0.25  # the cancel charged what it produced
    with pytest.raises(ConditionFailed) as lost:
        store.transition(
            "acme",
            task.id,
            expect={S.IN_PROGRESS},
            attempt=1,
            changes={"status": S.COMPLETED, "completed_at": now_ms(), "updated_at": now_ms(), "usage": usage(0.5, 9)},
        )
    assert lost.value.current.status == S.CANCELLED
    assert spent(aws) == Decimal("0.25")
