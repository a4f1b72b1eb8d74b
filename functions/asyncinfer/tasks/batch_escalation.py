"""A `complete_by` batch's waiting items leave their cheap path (a provider batch part, `p<n>`; the flex lane,
`flex`) for an on-demand class: moved and queued (asyncinfer.tasks.escalation), the batch's `escalated_at` set
once, and `batch.escalated` announced once per source. Every piece is safe to repeat (a retried runner step, a
repeated sweep): the moves are conditional, a re-sent message is fenced by the claim, the delivery id is fixed."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from asyncinfer.domain.batches import item_task_id
from asyncinfer.domain.model import TaskStatus, now_ms
from asyncinfer.domain.records import BatchStatus
from asyncinfer.queue.base import MessageQueue
from asyncinfer.store.base import BatchChanged, BatchStore, TaskStore
from asyncinfer.tasks.escalation import escalate
from asyncinfer.tasks.provider_parts import PROVIDER_BATCH
from asyncinfer.tasks.webhooks import Escalation, Webhooks

BATCH_ESCALATED = "batch.escalated"


@dataclass
class BatchEscalation:
    store: TaskStore
    batches: BatchStore
    lanes: MessageQueue
    webhooks: Webhooks | None
    # The batch's id as its webhooks show it (the batch surfaces' public id).
    public_id: Callable[[str], str]

    def items(
        self, tenant: str, batch_id: str, indexes: list[int], tier: str, source: str, from_path: str = PROVIDER_BATCH
    ) -> dict[str, Any]:
        """The items among `indexes` still waiting on `from_path` (or already moved to `tier`) go to `tier`."""
        tasks = self.batches.get_tasks(tenant, [item_task_id(batch_id, index) for index in indexes])
        waiting = [
            task for task in tasks.values() if task.status == TaskStatus.CREATED and task.path in (from_path, tier)
        ]
        sent = escalate(self.store, self.lanes, waiting, tier)
        batch = self.batches.get_batch(tenant, batch_id)
        if batch is None or batch.complete_by is None:
            return {"sent": sent}
        at = now_ms()
        if batch.escalated_at is None:
            with contextlib.suppress(BatchChanged):  # ended or cancelling meanwhile: nothing left to mark
                expect = {BatchStatus.IN_PROGRESS}
                batch = self.batches.update_batch(tenant, batch_id, expect=expect, changes={"escalated_at": at})
        if self.webhooks is not None:
            event = Escalation(self.public_id(batch_id), source, from_path, tier, sent, batch.complete_by, at)
            tp = batch.traceparent
            self.webhooks.announce_escalation(tenant, batch.webhook, BATCH_ESCALATED, batch_id, event, tp)
        return {"sent": sent, "tier": tier}
