"""The order a batch's items ended in, in the tenant's partition: sk = bend#<batch id>#<ended ms>#<index>, one
item per ended item, written by the table stream's side before it counts the item (asyncinfer.tasks.batch_tracker)
and read a page at a time while the batch runs (asyncinfer.tasks.batch_partial)."""

from __future__ import annotations

from typing import Any

from asyncinfer.store.batch_ends import BatchEnd

END_PREFIX = "bend#"


def end_key(batch_id: str, ended_ms: int, index: int) -> str:
    """The sort key: zero-padded, so key order is finishing order (ties broken by the item's line)."""
    return f"{END_PREFIX}{batch_id}#{ended_ms:013d}#{index:06d}"


class BatchEndItems:
    """Part of DynamoBatchStore: its table client and name are the store's."""

    _ddb: Any
    _table: str

    def put_batch_end(self, tenant: str, batch_id: str, end: BatchEnd, expires_at: int | None) -> None:
        # A repeated stream record writes the same key and the same values: no condition needed.
        item: dict[str, Any] = {
            "pk": {"S": tenant},
            "sk": {"S": end_key(batch_id, end.ended_ms, end.index)},
            "index": {"N": str(end.index)},
            "status": {"S": end.status},
            "ended_ms": {"N": str(end.ended_ms)},
        }
        if end.code is not None:
            item["code"] = {"S": end.code}
        if end.round:
            item["round"] = {"N": str(end.round)}
        if expires_at is not None:
            item["expires_at"] = {"N": str(expires_at)}
        self._ddb.put_item(TableName=self._table, Item=item)

    def batch_ends(
        self, tenant: str, batch_id: str, *, after: tuple[int, int] | None, until_ms: int | None, limit: int
    ) -> list[BatchEnd]:
        """At most `limit` endings in finishing order, from just after the ending `after` (ms, index), up to
        `until_ms` inclusive (None: all); a consistent read, so an ending counted before is always seen."""
        high = end_key(batch_id, until_ms, 999999) if until_ms is not None else f"{END_PREFIX}{batch_id}#~"
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk AND sk BETWEEN :low AND :high",
            "ExpressionAttributeValues": {
                ":pk": {"S": tenant},
                ":low": {"S": f"{END_PREFIX}{batch_id}#"},
                ":high": {"S": high},
            },
            "ConsistentRead": True,
        }
        if after is not None:
            kwargs["ExclusiveStartKey"] = {"pk": {"S": tenant}, "sk": {"S": end_key(batch_id, *after)}}
        found: list[BatchEnd] = []
        while len(found) < limit:
            resp = self._ddb.query(**kwargs, Limit=limit - len(found))
            found.extend(_end(item) for item in resp.get("Items", []))
            if "LastEvaluatedKey" not in resp:
                break
            kwargs["ExclusiveStartKey"] = resp["LastEvaluatedKey"]
        return found

    def delete_batch_ends(self, tenant: str, batch_id: str) -> int:
        """Remove a batch's finishing order; how many endings were removed."""
        removed = 0
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
            "ExpressionAttributeValues": {":pk": {"S": tenant}, ":prefix": {"S": f"{END_PREFIX}{batch_id}#"}},
            "ProjectionExpression": "pk, sk",
        }
        while True:
            resp = self._ddb.query(**kwargs)
            for key in resp.get("Items", []):
                self._ddb.delete_item(TableName=self._table, Key=key)
                removed += 1
            if "LastEvaluatedKey" not in resp:
                return removed
            kwargs["ExclusiveStartKey"] = resp["LastEvaluatedKey"]


def _end(item: dict[str, Any]) -> BatchEnd:
    return BatchEnd(
        index=int(item["index"]["N"]),
        status=item["status"]["S"],
        code=item["code"]["S"] if "code" in item else None,
        ended_ms=int(item["ended_ms"]["N"]),
        round=int(item["round"]["N"]) if "round" in item else 0,
    )
