"""A task transition's condition and update as DynamoDB expressions: the statuses it may leave, the attempt it
must be, an expired lease, and, for an end, that what the task produced is still as it was read."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from asyncinfer.domain.model import TERMINAL, Task, TaskStatus
from asyncinfer.store.codec import encode
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
        names: dict[str, str] = {"#status": "status"}
        values: dict[str, Any] = {}
        sets = []
        for i, (name, value) in enumerate(changes.items()):
            names[f"#c{i}"] = name
            values[f":c{i}"] = encode(name, value)
            sets.append(f"#c{i} = :c{i}")
        update = "SET " + ", ".join(sets)
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
        for i, status in enumerate(self.expected):
            values[f":e{i}"] = {"S": status.value}
        condition = (
            "attribute_exists(pk) AND #status IN (" + ", ".join(f":e{i}" for i in range(len(self.expected))) + ")"
        )
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
        return {
            "UpdateExpression": update,
            "ConditionExpression": condition,
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
        }
