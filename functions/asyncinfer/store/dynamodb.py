"""DynamoDB implementation of the task store: one table, pk = tenant, sk = task#<time-ordered id>
(asyncinfer.store.schema); tasks by compare-and-set, their names. The event log, the tenant's other items,
the lanes and what is kept of unfinished tasks (deadlines, the in-flight index) are written by the parts it
is made of (dynamodb_events, dynamodb_tenants, dynamodb_lanes, dynamodb_inflight)."""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any

from botocore.exceptions import ClientError

from asyncinfer.domain.deadlines import due_times
from asyncinfer.domain.model import TERMINAL, Task, TaskKind, TaskStatus, now_ms
from asyncinfer.domain.reservations import Hold, Settlement, charge_of
from asyncinfer.store.base import AlreadyExists, ConditionFailed, NameClaim, NameRecord, NameTaken, Page
from asyncinfer.store.codec import task_from_item, task_to_item
from asyncinfer.store.dynamodb_events import EventLogItems
from asyncinfer.store.dynamodb_inflight import InflightItems
from asyncinfer.store.dynamodb_lanes import LaneItems
from asyncinfer.store.dynamodb_ledger import LedgerItems
from asyncinfer.store.dynamodb_tenants import TenantItems
from asyncinfer.store.dynamodb_usage import UsageItems
from asyncinfer.store.fence import Fence, KnownTasks
from asyncinfer.store.schema import MAX_LIST_PAGES, NAME_PREFIX, TASK_PREFIX

CHARGE_ATTEMPTS = 8
# What a task's charge is computed from (asyncinfer.domain.reservations.charge_of): an end is written on
# condition that these are as read.
CHARGED_FROM = ("produced", "reserved_e8", "reserved_day", "model")


class DynamoTaskStore(EventLogItems, TenantItems, UsageItems, LedgerItems, LaneItems, InflightItems):
    def __init__(self, client: Any, table_name: str) -> None:
        self._ddb = client
        self._table = table_name
        self._known = KnownTasks()

    @staticmethod
    def _key(tenant: str, task_id: str) -> dict[str, Any]:
        return {"pk": {"S": tenant}, "sk": {"S": TASK_PREFIX + task_id}}

    @staticmethod
    def _name_key(tenant: str, namespace: str, value: str) -> dict[str, Any]:
        return {"pk": {"S": tenant}, "sk": {"S": f"{NAME_PREFIX}{namespace}#{value}"}}

    @staticmethod
    def _name_item(tenant: str, claim: NameClaim, named: str, expires_at: int | None) -> dict[str, Any]:
        """The item of a name claimed for the task (or batch) `named`."""
        item = {**DynamoTaskStore._name_key(tenant, claim.namespace, claim.value), "task_id": {"S": named}}
        item["fingerprint"] = {"S": claim.fingerprint}
        if expires_at is not None:
            item["expires_at"] = {"N": str(expires_at)}
        return item

    @staticmethod
    def _name_free() -> dict[str, Any]:
        """A name may be taken over once the task it named has expired (TTL deletion lags)."""
        return {
            "ConditionExpression": "attribute_not_exists(pk) OR expires_at < :now",
            "ExpressionAttributeValues": {":now": {"N": str(int(time.time()))}},
        }

    def create(self, task: Task, names: Sequence[NameClaim] = (), hold: Hold | None = None) -> None:
        item = task_to_item(task)
        # Its deadlines are written with it: a task can never be stored without the sweeper knowing of them.
        dues = [self._due_item(task.tenant, task.id, at) for at in due_times(task)]
        holds = self.hold_items(task.tenant, hold)
        if task.status in TERMINAL and task.reserved_e8 and task.reserved_day:
            # Stored already ended (a batch's item that will never run): its share of the batch's
            # reservation is given back with it.
            release = Settlement(date.fromisoformat(task.reserved_day), task.reserved_e8, 0)
            holds = holds + self.settle_items(task.tenant, release)
        if not names and not dues and not holds:
            try:
                self._ddb.put_item(TableName=self._table, Item=item, ConditionExpression="attribute_not_exists(pk)")
            except ClientError as exc:
                if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                    raise AlreadyExists(task.id) from exc
                raise
            return
        puts = [item] + [self._name_item(task.tenant, claim, task.id, task.expires_at) for claim in names]
        free = self._name_free()
        items = (
            [{"Put": {"TableName": self._table, "Item": puts[0], "ConditionExpression": "attribute_not_exists(pk)"}}]
            + [{"Put": {"TableName": self._table, "Item": p, **free}} for p in puts[1:]]
            + [{"Put": {"TableName": self._table, "Item": due}} for due in dues]
        )
        try:
            # A reservation is written with the task it is for: accepted work is always reserved.
            self.transact(items + holds, holds_from=len(items) if holds else None)
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "TransactionCanceledException":
                raise
            reasons = [r.get("Code") for r in exc.response.get("CancellationReasons", [])]
            if reasons and reasons[0] == "ConditionalCheckFailed":
                raise AlreadyExists(task.id) from exc
            for claim, reason in zip(names, reasons[1:], strict=False):
                if reason == "ConditionalCheckFailed":
                    raise NameTaken(claim) from exc
            for claim in names:  # no reasons given: find the taken name by reading
                if self.get_name(task.tenant, claim.namespace, claim.value) is not None:
                    raise NameTaken(claim) from exc
            raise

    def get_name(self, tenant: str, namespace: str, value: str) -> NameRecord | None:
        key = self._name_key(tenant, namespace, value)
        item = self._ddb.get_item(TableName=self._table, Key=key, ConsistentRead=True).get("Item")
        return NameRecord(namespace, value, item["task_id"]["S"], item["fingerprint"]["S"]) if item else None

    def get(self, tenant: str, task_id: str) -> Task | None:
        resp = self._ddb.get_item(TableName=self._table, Key=self._key(tenant, task_id), ConsistentRead=True)
        item = resp.get("Item")
        return task_from_item(item) if item else None

    def list(
        self,
        tenant: str,
        *,
        limit: int,
        after: str | None,
        status: TaskStatus | None,
        kinds: Iterable[TaskKind] | None = None,
    ) -> Page:
        query: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
            "ExpressionAttributeValues": {":pk": {"S": tenant}, ":prefix": {"S": TASK_PREFIX}},
            "ScanIndexForward": False,
        }
        # Soft-deleted and expired tasks are invisible (TTL deletion lags); a page short of them still
        # carries a cursor.
        query["FilterExpression"] = (
            "attribute_not_exists(deleted_at) AND (attribute_not_exists(expires_at) OR expires_at > :now)"
        )
        query["ExpressionAttributeValues"][":now"] = {"N": str(int(time.time()))}
        names: dict[str, str] = {}
        if status is not None:
            query["FilterExpression"] += " AND #status = :status"
            names["#status"] = "status"
            query["ExpressionAttributeValues"][":status"] = {"S": status.value}
        wanted_kinds = sorted(kinds) if kinds is not None else []
        if wanted_kinds:
            placeholders = [f":k{i}" for i in range(len(wanted_kinds))]
            query["FilterExpression"] += " AND #kind IN (" + ", ".join(placeholders) + ")"
            names["#kind"] = "kind"
            for placeholder, kind in zip(placeholders, wanted_kinds, strict=True):
                query["ExpressionAttributeValues"][placeholder] = {"S": kind.value}
        if names:
            query["ExpressionAttributeNames"] = names
        start = self._key(tenant, after) if after else None
        items: list[dict[str, Any]] = []
        for _ in range(MAX_LIST_PAGES):
            # Reads are billed by the items read, filtered or not: ask for what the page still needs.
            page_kwargs = {**query, "Limit": limit + 1 - len(items)}
            if start:
                page_kwargs["ExclusiveStartKey"] = start
            resp = self._ddb.query(**page_kwargs)
            items.extend(resp.get("Items", []))
            start = resp.get("LastEvaluatedKey")
            if len(items) > limit or not start:
                break
        tasks = [task_from_item(item) for item in items[:limit]]
        if len(items) > limit:
            next_cursor: str | None = tasks[-1].id
        elif start:
            next_cursor = start["sk"]["S"].removeprefix(TASK_PREFIX)
        else:
            next_cursor = None
        return Page(tasks=tasks, next_cursor=next_cursor)

    def transition(
        self,
        tenant: str,
        task_id: str,
        *,
        expect: Iterable[TaskStatus],
        changes: dict[str, Any],
        attempt: int | None = None,
        lease_expired_at: int | None = None,
        remove: Iterable[str] = (),
    ) -> Task:
        expected = sorted(expect)
        if not expected:
            # No status may lead here (e.g. back to CREATED): refuse without writing.
            raise ConditionFailed(self.get(tenant, task_id))
        fence = Fence(expected, attempt, lease_expired_at)
        if changes.get("status") not in TERMINAL:
            return self._update(tenant, task_id, **fence.update(changes, remove))
        # An end charges the task (what it produced, or its completion's usage) and settles its reservation
        # in the same write, on condition that what the charge is computed from is still as read. The first
        # try takes the task as this store last wrote it (a worker's claim or event-log batch: no read);
        # should that be stale, the condition fails and the task is read.
        item = self._known.get((tenant, task_id))
        for _ in range(CHARGE_ATTEMPTS):
            guessed = item is not None
            if item is None:
                raw = self._ddb.get_item(TableName=self._table, Key=self._key(tenant, task_id), ConsistentRead=True)
                item = raw.get("Item")
            current = task_from_item(item) if item else None
            if current is None or not fence.holds(current):
                if guessed:
                    item = None
                    continue
                raise ConditionFailed(current)
            charge = charge_of(current, changes["status"], changes.get("usage"), changes.get("updated_at") or now_ms())
            ending = {**changes, "usage": charge.usage} if charge.usage is not None else changes
            update = fence.update(ending, remove, as_read={name: item.get(name) for name in CHARGED_FROM})
            try:
                if charge.line is None and charge.settlement is None:
                    return self._update(tenant, task_id, **update)
                self._update_counting(
                    tenant, task_id, charge.line, self.settle_items(tenant, charge.settlement), **update
                )
            except ConditionFailed as lost:
                if lost.current is None or not fence.holds(lost.current):
                    raise
                item = None
                continue
            # A transaction returns no item: the task as read, with this write's changes.
            cleared = {name: None for name in (*remove, "produced") if name in Task.model_fields}
            return current.model_copy(update={**cleared, **ending})
        raise ConditionFailed(self.get(tenant, task_id))

    def delete_if(
        self,
        tenant: str,
        task_id: str,
        *,
        expect: Iterable[TaskStatus],
        names: Sequence[NameClaim] = (),
        release: Settlement | None = None,
    ) -> None:
        expected = sorted(expect)
        values = {f":e{i}": {"S": s.value} for i, s in enumerate(expected)}
        condition = {
            "ConditionExpression": "#status IN (" + ", ".join(values) + ")",
            "ExpressionAttributeNames": {"#status": "status"},
            "ExpressionAttributeValues": values,
        }
        released = self.settle_items(tenant, release)
        try:
            if not names and not released:
                self._ddb.delete_item(TableName=self._table, Key=self._key(tenant, task_id), **condition)
                return
            self.transact(
                [
                    {"Delete": {"TableName": self._table, "Key": self._key(tenant, task_id), **condition}},
                    *(
                        {"Delete": {"TableName": self._table, "Key": self._name_key(tenant, n.namespace, n.value)}}
                        for n in names
                    ),
                    *released,
                ]
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] not in {"ConditionalCheckFailedException", "TransactionCanceledException"}:
                raise

    def mark_deleted(self, tenant: str, task_id: str, *, at: int) -> Task:
        return self._update(
            tenant,
            task_id,
            UpdateExpression=(
                "SET deleted_at = :at, updated_at = :at REMOVE #request, request_key, #result, result_key, outputs"
            ),
            ConditionExpression="attribute_exists(pk) AND attribute_not_exists(deleted_at)",
            ExpressionAttributeNames={"#request": "request", "#result": "result"},
            ExpressionAttributeValues={":at": {"N": str(at)}},
        )

    def _update(self, tenant: str, task_id: str, **update: Any) -> Task:
        """A conditional update of the task: the task as it is now, or ConditionFailed with the task as it was."""
        try:
            resp = self._ddb.update_item(
                TableName=self._table,
                Key=self._key(tenant, task_id),
                ReturnValues="ALL_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
                **update,
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            old = exc.response.get("Item")
            self._known.forget((tenant, task_id))
            raise ConditionFailed(task_from_item(old) if old else None) from exc
        self._known.keep((tenant, task_id), resp["Attributes"])
        return task_from_item(resp["Attributes"])
