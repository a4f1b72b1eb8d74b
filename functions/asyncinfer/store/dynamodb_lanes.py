"""A lane's line and pace, in the task table: the tasks waiting in it, counted on the queued index (a task's
place in line, a tenant's waiting tasks), and its start counters (partition `_lanes`, one item per lane and
LANE_BUCKET_MS), from which a waiting task's start is estimated (asyncinfer.tasks.standing)."""

from __future__ import annotations

from typing import Any

from asyncinfer.store.schema import LANE_BUCKET_MS, LANES_PK, QUEUED_ATTRIBUTE, QUEUED_INDEX, TASK_PREFIX


class LaneItems:
    """Part of DynamoTaskStore: its table client and name are the store's."""

    _ddb: Any
    _table: str

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

    def record_start(self, lane: str, at_ms: int, count: int = 1) -> None:
        """`count` more tasks started in `lane`, in the bucket of `at_ms` (kept an hour)."""
        bucket = at_ms // LANE_BUCKET_MS
        self._ddb.update_item(
            TableName=self._table,
            Key={"pk": {"S": LANES_PK}, "sk": {"S": f"starts#{lane}#{bucket:013d}"}},
            UpdateExpression="ADD n :one SET expires_at = if_not_exists(expires_at, :ttl)",
            ExpressionAttributeValues={":one": {"N": str(count)}, ":ttl": {"N": str(at_ms // 1000 + 3600)}},
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
