"""A task transition's condition and update as DynamoDB expressions: the statuses it may leave, the attempt it
must be, an expired lease, and, for an end, that what its charge is computed from is still as it was read."""

from __future__ import annotations

import threading
from collections import OrderedDict
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
        self, changes: dict[str, Any], remove: Iterable[str], *, as_read: dict[str, dict[str, Any] | None] | None = None
    ) -> dict[str, Any]:
        """The UpdateItem arguments; with `as_read` (attributes as read, None: absent), on condition that each
        is still as read."""
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
        for i, (name, raw) in enumerate((as_read or {}).items()):
            names[f"#a{i}"] = name
            if raw is None:
                condition += f" AND attribute_not_exists(#a{i})"
            else:
                values[f":a{i}"] = raw
                condition += f" AND #a{i} = :a{i}"
        return {**args, "UpdateExpression": update, "ConditionExpression": condition}


class KnownTasks:
    """The tasks as this store last wrote them (a conditional update's new item), the most recent few: an end's
    first guess of what it charges, checked by its condition (a stale guess fails it and the task is read)."""

    def __init__(self, size: int = 64) -> None:
        self._size = size
        self._items: OrderedDict[tuple[str, str], dict[str, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def keep(self, key: tuple[str, str], item: dict[str, Any]) -> None:
        with self._lock:
            self._items[key] = item
            self._items.move_to_end(key)
            while len(self._items) > self._size:
                self._items.popitem(last=False)

    def get(self, key: tuple[str, str]) -> dict[str, Any] | None:
        with self._lock:
            return self._items.get(key)

    def forget(self, key: tuple[str, str]) -> None:
        with self._lock:
            self._items.pop(key, None)
