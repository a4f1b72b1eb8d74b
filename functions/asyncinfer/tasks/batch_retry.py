"""A batch's failed items run again (POST /v1/batches/{id}/retry, our extension): only those, as new tasks (ended
tasks never change), in the same batch, whose counts and files then read each line's latest round.

A retry starts round r = the batch's round + 1 with one conditional write (the batch ended in round r - 1; a
second retry racing it finds it running and is refused): back to in_progress, the retried lines out of their
ended sets, the ended fields cleared, the retried items' reservation held in the same transaction. The lines of
round r are written first to `round-<r>.json`, which the batch function reads to make their round-r items
(asyncinfer.domain.batches.item_task_id) and the finish reads to pick each line's latest item."""

from __future__ import annotations

import json
from typing import Any

from pydantic import ValidationError

from asyncinfer.blobs.base import BlobStore, round_key
from asyncinfer.domain.batches import (
    BatchNotEnded,
    BatchNotFound,
    BatchNotRetryable,
    NothingToRetry,
    RetryRequest,
    window_ms,
)
from asyncinfer.domain.errors import Conflict, InvalidRequest
from asyncinfer.domain.model import now_ms
from asyncinfer.domain.records import Batch, BatchStatus
from asyncinfer.domain.requests import validation_message
from asyncinfer.domain.reservations import Hold
from asyncinfer.queue.base import BatchJob, MessageQueue
from asyncinfer.store.base import BatchChanged, HoldRefused
from asyncinfer.store.batch_ends import BatchEndStore
from asyncinfer.store.batch_retries import BatchRetries, RetryRound
from asyncinfer.tasks.service import TaskService

RETRYABLE = frozenset({BatchStatus.COMPLETED, BatchStatus.EXPIRED})


def latest_rounds(blobs: BlobStore, batch: Batch, store: BatchRetries | None = None) -> dict[int, int]:
    """Each retried line's latest round (a line not in the map is in round 0): the round files, oldest first.
    The batch function (given the store) writes the current round's file if the retry died before it did."""
    rounds: dict[int, int] = {}
    for round in range(1, batch.round + 1):
        key = round_key(batch.tenant, batch.id, round)
        raw = blobs.get(key)
        if raw is None and store is not None and round == batch.round:
            raw = json.dumps(_round_lines(store, batch)).encode()
            blobs.put(key, raw, "application/json")
        if raw is None:
            raise RuntimeError(f"batch {batch.id} has lost the lines of its round {round}")
        rounds.update(dict.fromkeys(json.loads(raw), round))
    return rounds


def _round_lines(store: BatchRetries, batch: Batch) -> list[int]:
    """The lines of a round none of whose items were made yet: those in no ended set, as the retry left them."""
    ended = set().union(*store.ended_lines(batch.tenant, batch.id).values())
    return [index for index in range(batch.total) if index not in ended]


class BatchRetry:
    """Part of Batches: its task service, store and job queue are the batches'."""

    tasks: TaskService
    store: BatchEndStore
    jobs: MessageQueue

    def retry(self, tenant: str, batch_id: str, body: dict[str, Any]) -> Batch:
        try:
            request = RetryRequest.model_validate(body)
        except ValidationError as exc:
            raise InvalidRequest(validation_message(exc)) from None
        batch = self.store.get_batch(tenant, batch_id)
        if batch is None or (batch.expires_at is not None and batch.expires_at * 1000 <= now_ms()):
            raise BatchNotFound()
        _check_ended(batch)
        sets = self.store.ended_lines(tenant, batch_id)
        failed = frozenset(sets.get("failed_items", set()))
        expired = frozenset(sets.get("expired_items", set())) if request.include_expired else frozenset()
        if not failed and not expired:
            what = "failed or expired" if request.include_expired else "failed"
            raise NothingToRetry(f"The batch has no {what} items to retry")
        window = request.completion_window or batch.completion_window
        now = now_ms()
        hold = self._hold(tenant, batch, failed | expired)
        retry = RetryRound(
            round=batch.round + 1,
            failed=failed,
            expired=expired,
            now=now,
            deadline_at=now + window_ms(window) if window else None,
            completion_window=request.completion_window,
            reserved_day=hold.day.isoformat() if hold is not None else None,
        )
        try:
            started = self.store.start_round(batch, retry, hold)
        except BatchChanged as changed:
            if changed.current is None:
                raise BatchNotFound() from None
            _check_ended(changed.current)
            raise Conflict("The batch changed while it was retried (retried by another call); read it again") from None
        except HoldRefused as refused:
            assert self.tasks.budgets is not None and hold is not None
            raise self.tasks.budgets.refused(hold, refused) from None
        # Written once the round is won (a loser's lines never land); if this dies here, the batch function
        # writes the same lines from the ended sets (latest_rounds).
        key = round_key(tenant, batch_id, retry.round)
        self.tasks.blobs.put(key, json.dumps(retry.indexes).encode(), "application/json")
        self.jobs.send(BatchJob(tenant=tenant, batch_id=batch_id))
        return started

    def _hold(self, tenant: str, batch: Batch, lines: frozenset[int]) -> Hold | None:
        """What the retried items reserve: each line's share, as the submit computed it (kept in the input), at the
        on-demand price for a line first sent up in a provider batch job (a retry runs on demand)."""
        budgets = self.tasks.budgets
        if budgets is None:
            return None
        amount = 0
        for index, raw in enumerate(self.tasks.blobs.lines(batch.input_key)):
            if index in lines and raw.strip():
                line = json.loads(raw)
                amount += line.get("reserved_on_demand_e8", line.get("reserved_e8")) or 0
        if amount <= 0:
            return None
        budget = self.tasks.store.get_settings(tenant).budget
        return Hold(budgets.today(), amount, budget if budget is not None else budgets.store.get_budget(tenant))


def _check_ended(batch: Batch) -> None:
    if batch.status == BatchStatus.CANCELLED:
        raise BatchNotRetryable("A cancelled batch is not retried; submit its items again")
    if batch.status not in RETRYABLE:
        raise BatchNotEnded(f"The batch is still {batch.status.value}; retry it once it ended")
