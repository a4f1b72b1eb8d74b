"""What happens when a task ends, driven by the table's stream: its webhook is announced, and its batch
counts it. Both are safe to repeat, as stream records are delivered at least once."""

from __future__ import annotations

from asyncinfer.domain.model import Task
from asyncinfer.tasks.batch_tracker import BatchTracker
from asyncinfer.tasks.payloads import Payloads
from asyncinfer.tasks.webhooks import Webhooks


class Endings:
    def __init__(self, tracker: BatchTracker, webhooks: Webhooks, payloads: Payloads) -> None:
        self.tracker = tracker
        self.webhooks = webhooks
        self.payloads = payloads

    def task_ended(self, task: Task) -> None:
        if task.webhook is not None:
            at = task.completed_at or task.failed_at or task.cancelled_at or task.updated_at
            data = self.payloads.task_data(task)
            self.webhooks.announce(
                task.tenant, task.webhook, task.event_type, task.id, data, at, traceparent=task.traceparent
            )
        if task.batch_id is not None:
            self.tracker.item_ended(task)
