"""The store interface of a batch's retries: its ended items' lines per set, and the one write that starts a round
(asyncinfer.store.dynamodb_batch_retries keeps them in DynamoDB)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from asyncinfer.domain.records import Batch
from asyncinfer.domain.reservations import Hold


@dataclass(frozen=True)
class RetryRound:
    round: int  # the round it starts: the batch's round + 1
    failed: frozenset[int]  # the lines taken out of the failed set, run again
    expired: frozenset[int]  # the lines taken out of the expired set, run again
    now: int
    deadline_at: int | None  # the window's new end, if it has one
    completion_window: str | None
    reserved_day: str | None  # the day of its hold, which its items settle against

    @property
    def indexes(self) -> list[int]:
        return sorted(self.failed | self.expired)


class BatchRetries(Protocol):
    def ended_lines(self, tenant: str, batch_id: str) -> dict[str, set[int]]:
        """The lines of the items in each ended set (`failed_items`, `expired_items`...), read consistently."""

    def start_round(self, batch: Batch, retry: RetryRound, hold: Hold | None) -> Batch:
        """Back to in_progress in round `retry.round`, its lines out of their sets, the ended fields cleared, with
        its hold and its window's due, all or nothing, on condition that the batch ended (completed or expired)
        in the round before; BatchChanged otherwise, HoldRefused if the hold does not fit."""
