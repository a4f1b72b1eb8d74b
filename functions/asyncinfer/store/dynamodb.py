"""DynamoDB implementation of the store: one table, pk = tenant, sk = task#<time-ordered id>.

Event logs live under their own partition key (<tenant>#<task id>) so that a streaming task's
writes do not share the tenant partition's throughput with submits and polls.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError
from pydantic import BaseModel
from pydantic_core import to_jsonable_python

from asyncinfer.store.base import (
    AlreadyExists,
    ApiKeyInfo,
    ApiKeyRecord,
    ConditionFailed,
    NameClaim,
    NameRecord,
    NameTaken,
    Page,
)
from asyncinfer.tasks.model import TERMINAL, Task, TaskKind, TaskStatus

TASK_PREFIX = "task#"
EVENT_PREFIX = "ev#"
NAME_PREFIX = "name#"
# Structured fields are stored as JSON strings: no float/Decimal juggling, one attribute each.
JSON_FIELDS = frozenset({"request", "result", "error", "usage", "metadata", "outputs", "webhook"})
# A sparse index of the tasks not yet ended: `inflight` (= tenant) is set at create and removed by
# the transition to a terminal status. It counts a tenant's tasks in flight and finds orphans.
INFLIGHT_INDEX = "inflight"
INFLIGHT_ATTRIBUTE = "inflight"
# A batch's items are in the index too (the sweeper finds them) but under their own key, so a large batch
# does not use up the tenant's in-flight quota for interactive submits.
BATCH_INFLIGHT_SUFFIX = "#batch"
# Set on tasks whose ending someone waits for (a webhook, a batch): the table stream's filter selects them.
NOTIFY_ATTRIBUTE = "notify"
# A filtered list reads at most this many pages before answering with a cursor.
MAX_LIST_PAGES = 10

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def _encode(name: str, value: Any, json_fields: frozenset[str] = JSON_FIELDS) -> dict[str, Any]:
    if isinstance(value, BaseModel | list):
        value = to_jsonable_python(value, exclude_none=True)
    if name in json_fields:
        value = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return _serializer.serialize(value)


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def _decode(item: dict[str, Any], json_fields: frozenset[str] = JSON_FIELDS) -> dict[str, Any]:
    out = {}
    for name, raw in item.items():
        value = _plain(_deserializer.deserialize(raw))
        out[name] = json.loads(value) if name in json_fields else value
    return out


def record_to_item(record: BaseModel, pk: str, sk: str, json_fields: frozenset[str]) -> dict[str, Any]:
    """A record other than a task (a batch, a webhook delivery) as an item: flat, nested parts as JSON."""
    item = {"pk": {"S": pk}, "sk": {"S": sk}}
    for name, value in record.model_dump(mode="json", exclude_none=True).items():
        item[name] = _encode(name, value, json_fields)
    return item


def item_to_record(item: dict[str, Any], json_fields: frozenset[str]) -> dict[str, Any]:
    return {k: v for k, v in _decode(item, json_fields).items() if k not in ("pk", "sk")}


def task_from_item(item: dict[str, Any]) -> Task:
    return Task.model_validate(_decode(item))


def task_to_item(task: Task) -> dict[str, Any]:
    item = {"pk": _serializer.serialize(task.tenant), "sk": _serializer.serialize(TASK_PREFIX + task.id)}
    for name, value in task.model_dump(mode="json", exclude_none=True).items():
        item[name] = _encode(name, value)
    if task.status not in TERMINAL:
        item[INFLIGHT_ATTRIBUTE] = {"S": task.tenant + (BATCH_INFLIGHT_SUFFIX if task.batch_id else "")}
    if task.webhook is not None or task.batch_id is not None:
        item[NOTIFY_ATTRIBUTE] = {"S": "1"}
    return item


class DynamoTaskStore:
    def __init__(self, client: Any, table_name: str) -> None:
        self._ddb = client
        self._table = table_name

    @staticmethod
    def _key(tenant: str, task_id: str) -> dict[str, Any]:
        return {"pk": {"S": tenant}, "sk": {"S": TASK_PREFIX + task_id}}

    @staticmethod
    def _name_key(tenant: str, namespace: str, value: str) -> dict[str, Any]:
        return {"pk": {"S": tenant}, "sk": {"S": f"{NAME_PREFIX}{namespace}#{value}"}}

    def create(self, task: Task, names: Sequence[NameClaim] = ()) -> None:
        item = task_to_item(task)
        if not names:
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
        try:
            self._ddb.transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": self._table,
                            "Item": puts[0],
                            "ConditionExpression": "attribute_not_exists(pk)",
                        }
                    }
                ]
                + [{"Put": {"TableName": self._table, "Item": p, **free}} for p in puts[1:]]
            )
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
        names: dict[str, str] = {"#status": "status"}
        values: dict[str, Any] = {}
        sets = []
        for i, (name, value) in enumerate(changes.items()):
            names[f"#c{i}"] = name
            values[f":c{i}"] = _encode(name, value)
            sets.append(f"#c{i} = :c{i}")
        update = "SET " + ", ".join(sets)
        removes = []
        remove = list(remove)
        if changes.get("status") in TERMINAL:
            remove.append(INFLIGHT_ATTRIBUTE)
        for i, name in enumerate(remove):
            names[f"#r{i}"] = name
            removes.append(f"#r{i}")
        if removes:
            update += " REMOVE " + ", ".join(removes)
        for i, status in enumerate(expected):
            values[f":e{i}"] = {"S": status.value}
        condition = "attribute_exists(pk) AND #status IN (" + ", ".join(f":e{i}" for i in range(len(expected))) + ")"
        if attempt is not None:
            names["#attempt"] = "attempt"
            values[":attempt"] = {"N": str(attempt)}
            condition += " AND #attempt = :attempt"
        if lease_expired_at is not None:
            names["#lease"] = "lease_expires_at"
            values[":in_progress"] = {"S": TaskStatus.IN_PROGRESS.value}
            values[":lease_now"] = {"N": str(lease_expired_at)}
            condition += " AND (#status <> :in_progress OR attribute_not_exists(#lease) OR #lease <= :lease_now)"
        try:
            resp = self._ddb.update_item(
                TableName=self._table,
                Key=self._key(tenant, task_id),
                UpdateExpression=update,
                ConditionExpression=condition,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
                ReturnValues="ALL_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            old = exc.response.get("Item")
            raise ConditionFailed(task_from_item(old) if old else None) from exc
        return task_from_item(resp["Attributes"])

    def delete_if(
        self, tenant: str, task_id: str, *, expect: Iterable[TaskStatus], names: Sequence[NameClaim] = ()
    ) -> None:
        expected = sorted(expect)
        values = {f":e{i}": {"S": s.value} for i, s in enumerate(expected)}
        condition = {
            "ConditionExpression": "#status IN (" + ", ".join(values) + ")",
            "ExpressionAttributeNames": {"#status": "status"},
            "ExpressionAttributeValues": values,
        }
        try:
            if not names:
                self._ddb.delete_item(TableName=self._table, Key=self._key(tenant, task_id), **condition)
                return
            self._ddb.transact_write_items(
                TransactItems=[
                    {"Delete": {"TableName": self._table, "Key": self._key(tenant, task_id), **condition}},
                    *(
                        {"Delete": {"TableName": self._table, "Key": self._name_key(tenant, n.namespace, n.value)}}
                        for n in names
                    ),
                ]
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] not in {"ConditionalCheckFailedException", "TransactionCanceledException"}:
                raise

    def mark_deleted(self, tenant: str, task_id: str, *, at: int) -> Task:
        try:
            resp = self._ddb.update_item(
                TableName=self._table,
                Key=self._key(tenant, task_id),
                UpdateExpression=(
                    "SET deleted_at = :at, updated_at = :at REMOVE #request, request_key, #result, result_key, outputs"
                ),
                ConditionExpression="attribute_exists(pk) AND attribute_not_exists(deleted_at)",
                ExpressionAttributeNames={"#request": "request", "#result": "result"},
                ExpressionAttributeValues={":at": {"N": str(at)}},
                ReturnValues="ALL_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            old = exc.response.get("Item")
            raise ConditionFailed(task_from_item(old) if old else None) from exc
        return task_from_item(resp["Attributes"])

    def append_events(
        self,
        tenant: str,
        task_id: str,
        first_seq: int,
        events: list[dict[str, Any]],
        expires_at: int | None = None,
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

    def open_stream(self, tenant: str, stream_id: str, *, until: int, limit: int, now: int) -> bool:
        """Below `limit` open streams of the tenant (leases not yet run out at `now`, epoch seconds), take one
        until `until`; False at the limit. A lease a crash never gave back runs out by itself."""
        partition = {":pk": {"S": f"streams#{tenant}"}, ":now": {"N": str(now)}}
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
        item = {"pk": partition[":pk"], "sk": {"S": f"stream#{stream_id}"}, TTL_ATTRIBUTE: {"N": str(until)}}
        self._ddb.put_item(TableName=self._table, Item=item)
        return True

    def close_stream(self, tenant: str, stream_id: str) -> None:
        key = {"pk": {"S": f"streams#{tenant}"}, "sk": {"S": f"stream#{stream_id}"}}
        self._ddb.delete_item(TableName=self._table, Key=key)

    def put_api_key(self, record: ApiKeyRecord) -> None:
        """The key's item (looked up by hash) and its line in the tenant's key list, together."""
        item = {
            "pk": {"S": f"apikey#{record.key_hash}"},
            "sk": {"S": "apikey"},
            "tenant": {"S": record.tenant},
            "created_at": {"N": str(record.created_at)},
        }
        if record.usage_key:
            item["usage_key"] = {"S": record.usage_key}
        listed = {**_key_list_key(record.tenant, record.key_id), "key_hash": {"S": record.key_hash}}
        listed["created_at"] = item["created_at"]
        if record.expires_at is not None:
            item[TTL_ATTRIBUTE] = listed[TTL_ATTRIBUTE] = {"N": str(record.expires_at)}
        new = "attribute_not_exists(pk)"
        try:
            self._ddb.transact_write_items(
                TransactItems=[
                    {"Put": {"TableName": self._table, "Item": item, "ConditionExpression": new}},
                    {"Put": {"TableName": self._table, "Item": listed, "ConditionExpression": new}},
                ]
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "TransactionCanceledException":
                raise AlreadyExists("api key") from exc
            raise

    def list_api_keys(self, tenant: str) -> list[ApiKeyInfo]:
        resp = self._ddb.query(
            TableName=self._table,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": _key_list_key(tenant, "")["pk"]},
        )
        return [
            ApiKeyInfo(
                key_id=item["sk"]["S"].removeprefix("key#"),
                tenant=tenant,
                created_at=int(item["created_at"]["N"]),
                expires_at=int(item[TTL_ATTRIBUTE]["N"]) if TTL_ATTRIBUTE in item else None,
                revoked_at=int(item["revoked_at"]["N"]) if "revoked_at" in item else None,
            )
            for item in resp.get("Items", [])
        ]

    def revoke_api_key(self, tenant: str, key_id: str, at: int) -> bool:
        key = _key_list_key(tenant, key_id)
        try:
            listed = self._ddb.update_item(
                TableName=self._table,
                Key=key,
                UpdateExpression="SET revoked_at = :at",
                ConditionExpression="attribute_exists(pk) AND attribute_not_exists(revoked_at)",
                ExpressionAttributeValues={":at": {"N": str(at)}},
                ReturnValues="ALL_NEW",
            )["Attributes"]
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise
        self._ddb.delete_item(
            TableName=self._table, Key={"pk": {"S": f"apikey#{listed['key_hash']['S']}"}, "sk": {"S": "apikey"}}
        )
        return True

    def count_submit(self, tenant: str, window: int, limit: int, expires_at: int) -> bool:
        try:
            self._ddb.update_item(
                TableName=self._table,
                Key={"pk": {"S": f"rate#{tenant}"}, "sk": {"S": f"w#{window}"}},
                UpdateExpression="ADD submits :one SET expires_at = :exp",
                ConditionExpression="attribute_not_exists(submits) OR submits < :limit",
                ExpressionAttributeValues={
                    ":one": {"N": "1"},
                    ":limit": {"N": str(limit)},
                    ":exp": {"N": str(expires_at)},
                },
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise
        return True

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
        count = 0
        while count < limit:
            resp = self._ddb.query(**kwargs, Limit=limit - count)
            count += resp["Count"]
            if "LastEvaluatedKey" not in resp:
                break
            kwargs["ExclusiveStartKey"] = resp["LastEvaluatedKey"]
        return count

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

    def get_api_key(self, key_hash: str) -> ApiKeyRecord | None:
        resp = self._ddb.get_item(TableName=self._table, Key={"pk": {"S": f"apikey#{key_hash}"}, "sk": {"S": "apikey"}})
        item = resp.get("Item")
        if not item:
            return None
        return ApiKeyRecord(
            key_hash=key_hash,
            tenant=item["tenant"]["S"],
            created_at=int(item["created_at"]["N"]),
            usage_key=item.get("usage_key", {}).get("S"),
            expires_at=int(item[TTL_ATTRIBUTE]["N"]) if TTL_ATTRIBUTE in item else None,
        )


def _key_list_key(tenant: str, key_id: str) -> dict[str, dict[str, str]]:
    """A tenant's keys listed in a partition of their own (no scan finds them), one item per key."""
    return {"pk": {"S": f"keys#{tenant}"}, "sk": {"S": f"key#{key_id}"}}


TABLE_KEY_SCHEMA = [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}]
TABLE_ATTRIBUTES = [
    {"AttributeName": "pk", "AttributeType": "S"},
    {"AttributeName": "sk", "AttributeType": "S"},
    {"AttributeName": INFLIGHT_ATTRIBUTE, "AttributeType": "S"},
]
TABLE_INDEXES = [
    {
        "IndexName": INFLIGHT_INDEX,
        "KeySchema": [
            {"AttributeName": INFLIGHT_ATTRIBUTE, "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        "Projection": {"ProjectionType": "KEYS_ONLY"},
    }
]
TTL_ATTRIBUTE = "expires_at"
# The table stream carries both images: a task's ending is a change of status (asyncinfer.store.dynamodb_stream).
TABLE_STREAM_VIEW = "NEW_AND_OLD_IMAGES"
