"""What the table keeps of tasks not yet ended, besides the tasks: the deadlines the sweeper watches (partition
`_due`, one item per time and task, written with the task by DynamoTaskStore.create) and the in-flight index,
counted per tenant (its quota) and paged through across tenants (the sweeper's orphans)."""

from __future__ import annotations

from typing import Any

from asyncinfer.store.base import Due
from asyncinfer.store.schema import BATCH_INFLIGHT_SUFFIX, DUE_PK, INFLIGHT_ATTRIBUTE, INFLIGHT_INDEX, TASK_PREFIX


class InflightItems:
    """Part of DynamoTaskStore: its table client and name are the store's."""

    _ddb: Any
    _table: str
    _count: Any  # LaneItems._count: what a query selects, counted page by page

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
        keys = (item["sk"]["S"].split("#", 2) for item in resp.get("Items", []))
        return [Due(int(at), tenant, task_id) for at, tenant, task_id in keys]

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
