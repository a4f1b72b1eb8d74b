"""A task transition's condition and update as DynamoDB expressions: the statuses it may leave, the attempt it
must be, an expired lease, and, for an end, that what the task produced is still as it was read."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from asyncinfer.domain.model import TERMINAL, Task, TaskStatus
from asyncinfer.store.codec import status_guarded_set
from asyncinfer.store.schema import INFLIGHT_ATTRIBUTE, QUEUED_ATTRIBUTE


class Fence:
    """A transition's condition: the statuses it may leave, the attempt it must be, an expired lease."""

    def __init__(self, expected: list[TaskStatus], attempt: int | None, lease_expired_at: int | None) -> None:
        self.expected = expected
        self.attempt = attempt
        self.lease_expired_at = lease_expired_at

    def holds(self, task: Task) -> bool:
        if task.status not in self.expected or (self.attempt is not None and task.attempt != self.attempt):
            return False
        if self.lease_expired_at is None or task.status != TaskStatus.IN_PROGRESS:
            return True
        return task.lease_expires_at is None or task.lease_expires_at <= self.lease_expired_at

    def update(
        self, changes: dict[str, Any], remove: Iterable[str], *, produced: dict[str, Any] | bool | None = False
    ) -> dict[str, Any]:
        """The UpdateItem arguments; with `produced` (the attribute as read, None: absent), on condition that
        it is still as read."""
        args = status_guarded_set(changes, self.expected)
        names, values = args["ExpressionAttributeNames"], args["ExpressionAttributeValues"]
        update, condition = args["UpdateExpression"], args["ConditionExpression"]
        removes = []
        remove = list(remove)
        if changes.get("status") in TERMINAL:
            remove += [INFLIGHT_ATTRIBUTE, "produced"]
        if changes.get("status") not in (None, TaskStatus.CREATED):
            remove.append(QUEUED_ATTRIBUTE)
        for i, name in enumerate(dict.fromkeys(remove)):
            names[f"#r{i}"] = name
            removes.append(f"#r{i}")
        if removes:
            update += " REMOVE " + ", ".join(removes)
        if self.attempt is not None:
            names["#attempt"] = "attempt"
            values[":attempt"] = {"N": str(self.attempt)}
            condition += " AND #attempt = :attempt"
        if self.lease_expired_at is not None:
            names["#lease"] = "lease_expires_at"
            values[":in_progress"] = {"S": TaskStatus.IN_PROGRESS.value}
            values[":lease_now"] = {"N": str(self.lease_expired_at)}
            condition += " AND (#status <> :in_progress OR attribute_not_exists(#lease) OR #lease <= :lease_now)"
        if produced is not False:
            names["#produced"] = "produced"
            if produced is None:
                condition += " AND attribute_not_exists(#produced)"
            else:
                values[":produced"] = produced
                condition += " AND #produced = :produced"
        return {**args, "UpdateExpression": update, "ConditionExpression": condition}
