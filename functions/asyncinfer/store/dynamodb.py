"""DynamoDB implementation of the task store: one table, pk = tenant, sk = task#<time-ordered id>
(asyncinfer.store.schema); tasks by compare-and-set, their names, the in-flight index. The event log and
the tenant's other items are written by the parts it is made of (dynamodb_events, dynamodb_tenants)."""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any

from botocore.exceptions import ClientError

from asyncinfer.domain.deadlines import due_times
from asyncinfer.domain.model import TERMINAL, Task, TaskKind, TaskStatus, now_ms
from asyncinfer.domain.reservations import Hold, Settlement, charge_of
from asyncinfer.store.base import AlreadyExists, ConditionFailed, Due, NameClaim, NameRecord, NameTaken, Page
from asyncinfer.store.codec import task_from_item, task_to_item
from asyncinfer.store.dynamodb_events import EventLogItems
from asyncinfer.store.dynamodb_ledger import LedgerItems
from asyncinfer.store.dynamodb_tenants import TenantItems
from asyncinfer.store.dynamodb_usage import UsageItems
from asyncinfer.store.fence import Fence
from asyncinfer.store.schema import (
    BATCH_INFLIGHT_SUFFIX,
    DUE_PK,
    INFLIGHT_ATTRIBUTE,
    INFLIGHT_INDEX,
    LANE_BUCKET_MS,
    LANES_PK,
    MAX_LIST_PAGES,
    NAME_PREFIX,
    QUEUED_ATTRIBUTE,
    QUEUED_INDEX,
    TASK_PREFIX,
)

CHARGE_ATTEMPTS = 8


class DynamoTaskStore(EventLogItems, TenantItems, UsageItems, LedgerItems):
    def __init__(self, client: Any, table_name: str) -> None:
        self._ddb = client
        self._table = table_name

    @staticmethod
    def _key(tenant: str, task_id: str) -> dict[str, Any]:
        return {"pk": {"S": tenant}, "sk": {"S": TASK_PREFIX + task_id}}

    @staticmethod
    def _name_key(tenant: str, namespace: str, value: str) -> dict[str, Any]:
        return {"pk": {"S": tenant}, "sk": {"S": f"{NAME_PREFIX}{namespace}#{value}"}}

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
        puts = [item]
        for claim in names:
            name_item = {
                **self._name_key(task.tenant, claim.namespace, claim.value),
                "task_id": {"S": task.id},
                "fingerprint": {"S": claim.fingerprint},
            }
            if task.expires_at is not None:
                name_item["expires_at"] = {"N": str(task.expires_at)}
            puts.append(name_item)
        # A name may be taken over once the task it named has expired (TTL deletion lags).
        free = {
            "ConditionExpression": "attribute_not_exists(pk) OR expires_at < :now",
            "ExpressionAttributeValues": {":now": {"N": str(int(time.time()))}},
        }
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
        resp = self._ddb.get_item(
            TableName=self._table, Key=self._name_key(tenant, namespace, value), ConsistentRead=True
        )
        item = resp.get("Item")
        if not item:
            return None
        return NameRecord(namespace, value, item["task_id"]["S"], item["fingerprint"]["S"])

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
            wanted = limit + 1 - len(items)
            # Reads are billed by the items read, filtered or not: ask for what the page still needs.
            page_kwargs = {**query, "Limit": wanted}
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
        # in the same write; what it produced is read first and must not change before that write.
        for _ in range(CHARGE_ATTEMPTS):
            raw = self._ddb.get_item(TableName=self._table, Key=self._key(tenant, task_id), ConsistentRead=True)
            item = raw.get("Item")
            current = task_from_item(item) if item else None
            if current is None or not fence.holds(current):
                raise ConditionFailed(current)
            charge = charge_of(current, changes["status"], changes.get("usage"), changes.get("updated_at") or now_ms())
            ending = {**changes, "usage": charge.usage} if charge.usage is not None else changes
            update = fence.update(ending, remove, produced=item.get("produced"))
            try:
                if charge.line is None and charge.settlement is None:
                    return self._update(tenant, task_id, **update)
                return self._update_counting(
                    tenant, task_id, charge.line, self.settle_items(tenant, charge.settlement), **update
                )
            except ConditionFailed as lost:
                if lost.current is None or not fence.holds(lost.current):
                    raise
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
            raise ConditionFailed(task_from_item(old) if old else None) from exc
        return task_from_item(resp["Attributes"])

    def _count(self, query: dict[str, Any], limit: int) -> int:
        """What a query selects, counted page by page up to `limit`."""
        count = 0
        while count < limit:
            resp = self._ddb.query(**query, Limit=limit - count)
            count += resp["Count"]
            if "LastEvaluatedKey" not in resp:
                break
            query["ExclusiveStartKey"] = resp["LastEvaluatedKey"]
        return count

    def count_queued_before(self, lane: str, task_id: str, limit: int, tenant: str | None = None) -> int:
        """The tasks waiting in `lane` that were made before `task_id` (all tenants', or `tenant`'s), counted up
        to `limit`."""
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": QUEUED_INDEX,
            "KeyConditionExpression": "#queued = :lane AND sk < :mine",
            "ExpressionAttributeNames": {"#queued": QUEUED_ATTRIBUTE},
            "ExpressionAttributeValues": {":lane": {"S": lane}, ":mine": {"S": TASK_PREFIX + task_id}},
            "Select": "COUNT",
        }
        if tenant is not None:
            kwargs["FilterExpression"] = "pk = :tenant"
            kwargs["ExpressionAttributeValues"][":tenant"] = {"S": tenant}
        return self._count(kwargs, limit)

    def count_waiting(self, tenant: str, lane: str, limit: int) -> int:
        """The tenant's tasks waiting in `lane`, counted up to `limit` (the index is eventually consistent)."""
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": QUEUED_INDEX,
            "KeyConditionExpression": "#queued = :lane",
            "FilterExpression": "pk = :tenant",
            "ExpressionAttributeNames": {"#queued": QUEUED_ATTRIBUTE},
            "ExpressionAttributeValues": {":lane": {"S": lane}, ":tenant": {"S": tenant}},
            "Select": "COUNT",
        }
        return self._count(kwargs, limit)

    def record_start(self, lane: str, at_ms: int) -> None:
        """One more task started in `lane`, in the bucket of `at_ms` (kept an hour)."""
        bucket = at_ms // LANE_BUCKET_MS
        self._ddb.update_item(
            TableName=self._table,
            Key={"pk": {"S": LANES_PK}, "sk": {"S": f"starts#{lane}#{bucket:013d}"}},
            UpdateExpression="ADD n :one SET expires_at = if_not_exists(expires_at, :ttl)",
            ExpressionAttributeValues={":one": {"N": "1"}, ":ttl": {"N": str(at_ms // 1000 + 3600)}},
        )

    def starts_since(self, lane: str, since_ms: int) -> list[tuple[int, int]]:
        """Tasks started in `lane` from the bucket of `since_ms` on: (the bucket's first ms, count), in order."""
        resp = self._ddb.query(
            TableName=self._table,
            KeyConditionExpression="pk = :pk AND sk BETWEEN :first AND :last",
            ExpressionAttributeValues={
                ":pk": {"S": LANES_PK},
                ":first": {"S": f"starts#{lane}#{since_ms // LANE_BUCKET_MS:013d}"},
                ":last": {"S": f"starts#{lane}#9"},
            },
        )
        items = resp.get("Items", [])
        return [(int(item["sk"]["S"].rsplit("#", 1)[1]) * LANE_BUCKET_MS, int(item["n"]["N"])) for item in items]

    @staticmethod
    def _due_key(tenant: str, task_id: str, at_ms: int) -> dict[str, Any]:
        return {"pk": {"S": DUE_PK}, "sk": {"S": f"{at_ms:013d}#{tenant}#{task_id}"}}

    def _due_item(self, tenant: str, task_id: str, at_ms: int) -> dict[str, Any]:
        # Kept a day past its time at most: a sweeper that never came is no reason to keep it for ever.
        return {**self._due_key(tenant, task_id, at_ms), "expires_at": {"N": str(at_ms // 1000 + 86400)}}

    def add_due(self, tenant: str, task_id: str, at_ms: int) -> None:
        # An update, not a put: the functions that add them may update items and need no more.
        item = self._due_item(tenant, task_id, at_ms)
        self._ddb.update_item(
            TableName=self._table,
            Key=self._due_key(tenant, task_id, at_ms),
            UpdateExpression="SET expires_at = :ttl",
            ExpressionAttributeValues={":ttl": item["expires_at"]},
        )

    def due_before(self, at_ms: int, limit: int, after: Due | None = None) -> list[Due]:
        query: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk AND sk <= :last",
            "ExpressionAttributeValues": {":pk": {"S": DUE_PK}, ":last": {"S": f"{at_ms:013d}#~"}},
            "Limit": limit,
        }
        if after is not None:
            query["ExclusiveStartKey"] = self._due_key(after.tenant, after.task_id, after.at_ms)
        resp = self._ddb.query(**query)
        found = []
        for item in resp.get("Items", []):
            at, tenant, task_id = item["sk"]["S"].split("#", 2)
            found.append(Due(int(at), tenant, task_id))
        return found

    def clear_due(self, due: Due) -> None:
        self._ddb.delete_item(TableName=self._table, Key=self._due_key(due.tenant, due.task_id, due.at_ms))

    def count_inflight(self, tenant: str, limit: int) -> int:
        """The tenant's unfinished tasks, counted up to `limit` (the index is eventually consistent)."""
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": INFLIGHT_INDEX,
            "KeyConditionExpression": "#inflight = :tenant",
            "ExpressionAttributeNames": {"#inflight": INFLIGHT_ATTRIBUTE},
            "ExpressionAttributeValues": {":tenant": {"S": tenant}},
            "Select": "COUNT",
        }
        return self._count(kwargs, limit)

    def inflight_before(
        self, before_id: str, limit: int, after: dict[str, Any] | None = None
    ) -> tuple[list[tuple[str, str]], dict[str, Any] | None]:
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": INFLIGHT_INDEX,
            # Not a batch's items: their batch job queues them (again on every run), the sweeper never does.
            "FilterExpression": "sk < :before AND NOT contains(#inflight, :batch)",
            "ExpressionAttributeNames": {"#inflight": INFLIGHT_ATTRIBUTE},
            "ExpressionAttributeValues": {
                ":before": {"S": TASK_PREFIX + before_id},
                ":batch": {"S": BATCH_INFLIGHT_SUFFIX},
            },
            "Limit": limit,
        }
        if after:
            kwargs["ExclusiveStartKey"] = after
        resp = self._ddb.scan(**kwargs)
        found = [(item["pk"]["S"], item["sk"]["S"].removeprefix(TASK_PREFIX)) for item in resp.get("Items", [])]
        return found, resp.get("LastEvaluatedKey")
