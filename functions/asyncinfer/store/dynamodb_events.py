"""The event log of a task (batches of events under the task's own partition key, so a streaming task's
writes do not share the tenant partition's throughput), and the holds of requests that keep a function instance
(open SSE streams, waiting submits)."""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from asyncinfer.store.schema import EVENT_PREFIX, TTL_ATTRIBUTE


class EventLogItems:
    """Part of DynamoTaskStore: its table client and name are the store's."""

    _ddb: Any
    _table: str

    def append_events(
        self, tenant: str, task_id: str, first_seq: int, events: list[dict[str, Any]], expires_at: int | None = None
    ) -> None:
        item = {
            "pk": {"S": f"{tenant}#{task_id}"},
            "sk": {"S": f"{EVENT_PREFIX}{first_seq:010d}"},
            "first_seq": {"N": str(first_seq)},
            "events": {"S": json.dumps(events, separators=(",", ":"), ensure_ascii=False)},
        }
        if expires_at is not None:
            item["expires_at"] = {"N": str(expires_at)}
        # A retried flush of the same batch must not duplicate it.
        try:
            self._ddb.put_item(TableName=self._table, Item=item, ConditionExpression="attribute_not_exists(sk)")
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise

    def read_events(self, tenant: str, task_id: str, after_seq: int = 0, scan_from: int = 0) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk AND sk BETWEEN :low AND :high",
            "ExpressionAttributeValues": {
                ":pk": {"S": f"{tenant}#{task_id}"},
                ":low": {"S": f"{EVENT_PREFIX}{scan_from:010d}"},
                ":high": {"S": f"{EVENT_PREFIX}9999999999"},
            },
            "ConsistentRead": True,
        }
        while True:
            resp = self._ddb.query(**kwargs)
            for item in resp.get("Items", []):
                first = int(item["first_seq"]["N"])
                for offset, event in enumerate(json.loads(item["events"]["S"])):
                    if first + offset > after_seq:
                        events.append({"seq": first + offset, **event})
            if "LastEvaluatedKey" not in resp:
                return events
            kwargs["ExclusiveStartKey"] = resp["LastEvaluatedKey"]

    def delete_events(self, tenant: str, task_id: str) -> int:
        """Remove the task's whole event log; how many of its stored batches were removed."""
        removed = 0
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :ev)",
            "ExpressionAttributeValues": {":pk": {"S": f"{tenant}#{task_id}"}, ":ev": {"S": EVENT_PREFIX}},
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

    def hold_instance(self, pool: str, tenant: str, holder: str, *, until: int, limit: int, now: int) -> bool:
        """Below `limit` holds of the tenant in `pool` (requests keeping a function instance: open streams, waiting
        submits) not yet run out at `now`, epoch seconds, take one until `until`; False at the limit. A hold a
        crash never gave back runs out by itself."""
        partition = {":pk": {"S": f"{pool}#{tenant}"}, ":now": {"N": str(now)}}
        counted = self._ddb.query(
            TableName=self._table,
            KeyConditionExpression="pk = :pk",
            FilterExpression="#exp > :now",
            ExpressionAttributeNames={"#exp": TTL_ATTRIBUTE},
            ExpressionAttributeValues=partition,
            Select="COUNT",
            ConsistentRead=True,
        )
        if counted["Count"] >= limit:
            return False
        item = {"pk": partition[":pk"], "sk": {"S": f"hold#{holder}"}, TTL_ATTRIBUTE: {"N": str(until)}}
        self._ddb.put_item(TableName=self._table, Item=item)
        return True

    def free_instance(self, pool: str, tenant: str, holder: str) -> None:
        key = {"pk": {"S": f"{pool}#{tenant}"}, "sk": {"S": f"hold#{holder}"}}
        self._ddb.delete_item(TableName=self._table, Key=key)
