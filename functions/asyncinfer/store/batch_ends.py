"""The store interface of a batch's finishing order: one record per ended item, in the order the items ended
(asyncinfer.store.dynamodb_batch_ends keeps them in DynamoDB)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from asyncinfer.store.base import BatchStore
from asyncinfer.store.batch_retries import BatchRetries


@dataclass(frozen=True)
class BatchEnd:
    index: int  # the item's line in the batch's input
    status: str  # the task's terminal status
    code: str | None  # its error code, when it did not complete
    ended_ms: int
    round: int = 0  # the item's round (a retried item ends again, as a new task, in a later one)


class BatchEnds(Protocol):
    def put_batch_end(self, tenant: str, batch_id: str, end: BatchEnd, expires_at: int | None) -> None:
        """Record an item's ending; the same ending recorded again changes nothing."""

    def batch_ends(
        self, tenant: str, batch_id: str, *, after: tuple[int, int] | None, until_ms: int | None, limit: int
    ) -> list[BatchEnd]:
        """At most `limit` endings in finishing order, after the ending (ms, index) `after`, none after `until_ms`."""

    def delete_batch_ends(self, tenant: str, batch_id: str) -> int:
        """Remove them all; how many there were."""


class BatchEndStore(BatchStore, BatchEnds, BatchRetries, Protocol):
    """A batch store that keeps its batches' finishing order and starts their retries' rounds."""
