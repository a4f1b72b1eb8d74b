"""DynamoDB implementation of the batch and webhook stores, in the tasks' table and tenant partitions:
sk = batch#<id>, whd#<delivery id>, whsecret."""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any

from botocore.exceptions import ClientError

from asyncinfer.domain.deadlines import BATCH_EXPIRED, first_look
from asyncinfer.domain.item_costs import cost_e8, cost_on_demand_e8, path_taken
from asyncinfer.domain.model import Task, TaskStatus
from asyncinfer.domain.records import Batch, BatchStatus, Delivery
from asyncinfer.domain.reservations import Hold, Settlement
from asyncinfer.store.base import BatchChanged, NameClaim, NameTaken, SecretsChanged, WebhookSecrets
from asyncinfer.store.codec import item_to_record, record_to_item, status_guarded_set, task_from_item
from asyncinfer.store.dynamodb import DynamoTaskStore
from asyncinfer.store.dynamodb_batch_ends import BatchEndItems
from asyncinfer.store.dynamodb_batch_retries import BatchRetryItems
from asyncinfer.store.dynamodb_ledger import LedgerItems
from asyncinfer.store.schema import BATCH_DUE, BATCH_ESCALATE, DUE_PK, TASK_PREFIX

BATCH_PREFIX = "batch#"
DELIVERY_PREFIX = "whd#"
SECRET_KEY = "whsecret"
BATCH_JSON = frozenset({"webhook", "metadata"})
# A batch's completed items per path, one number attribute each (`paths_flex`, ...): Batch.paths.
PATHS_PREFIX = "paths_"
DELIVERY_JSON = frozenset({"attempts"})
# The items (their lines) that ended, one number set per terminal status (and one for the FAILED items that
# ended `batch_expired`); their sizes are the counts.
ENDED_SETS = {
    "COMPLETED": "completed_items",
    "FAILED": "failed_items",
    "CANCELLED": "cancelled_items",
    "EXPIRED": "expired_items",
}


def ended_set(task: Task) -> str:
    """The number set an ended item of a batch is counted in."""
    if task.status == TaskStatus.FAILED and task.error is not None and task.error.code == BATCH_EXPIRED:
        return ENDED_SETS["EXPIRED"]
    return ENDED_SETS[task.status.value]


def _conflict(exc: ClientError, *codes: str) -> bool:
    return exc.response["Error"]["Code"] in (codes or ("ConditionalCheckFailedException",))


class _Table:
    def __init__(self, client: Any, table_name: str) -> None:
        self._ddb = client
        self._table = table_name

    def _page(self, tenant: str, prefix: str, limit: int, after: str | None) -> tuple[list[dict[str, Any]], str | None]:
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
            "ExpressionAttributeValues": {":pk": {"S": tenant}, ":prefix": {"S": prefix}},
            "ScanIndexForward": False,
            "Limit": limit,
        }
        if after:
            kwargs["ExclusiveStartKey"] = {"pk": {"S": tenant}, "sk": {"S": after}}
        resp = self._ddb.query(**kwargs)
        last = resp.get("LastEvaluatedKey")
        return resp.get("Items", []), last["sk"]["S"] if last else None


class DynamoBatchStore(_Table, LedgerItems, BatchEndItems, BatchRetryItems):
    @staticmethod
    def _key(tenant: str, batch_id: str) -> dict[str, Any]:
        return {"pk": {"S": tenant}, "sk": {"S": BATCH_PREFIX + batch_id}}

    @staticmethod
    def _batch(item: dict[str, Any]) -> Batch:
        item = dict(item)
        counts = {status.lower(): len(item.pop(name, {}).get("NS", [])) for status, name in ENDED_SETS.items()}
        paths = {
            key.removeprefix(PATHS_PREFIX): int(item.pop(key)["N"])
            for key in list(item)
            if key.startswith(PATHS_PREFIX)
        }
        return Batch.model_validate({**item_to_record(item, BATCH_JSON), **counts, "paths": paths})

    def create_batch(self, batch: Batch, claim: NameClaim | None = None, hold: Hold | None = None) -> None:
        item = record_to_item(batch, batch.tenant, BATCH_PREFIX + batch.id, BATCH_JSON)
        item.pop("paths", None)  # counted into `paths_<path>` attributes as items complete
        puts: list[dict[str, Any]] = [
            {"Put": {"TableName": self._table, "Item": item, "ConditionExpression": "attribute_not_exists(pk)"}}
        ]
        if batch.deadline_at is not None:
            # Written with the batch: its window is always watched, once for all of its items.
            puts.append({"Put": {"TableName": self._table, "Item": self._window_due(batch)}})
        if batch.complete_by is not None:
            # Its items waiting in flex are looked at (asyncinfer.tasks.flex_escalation): first as if on-demand were
            # slow, then at the time the batch function reckons.
            at = first_look(batch.complete_by, batch.total)
            puts.append({"Put": {"TableName": self._table, "Item": self._due(batch, at, BATCH_ESCALATE)}})
        holds = self.hold_items(batch.tenant, hold)
        if claim is None and len(puts) == 1 and not holds:
            self._ddb.put_item(**puts[0]["Put"])
            return
        if claim is None:
            self.transact(puts + holds, holds_from=len(puts) if holds else None)
            return
        name = DynamoTaskStore._name_item(batch.tenant, claim, batch.id, batch.expires_at)
        puts.append({"Put": {"TableName": self._table, "Item": name, **DynamoTaskStore._name_free()}})
        try:
            self.transact(puts + holds, holds_from=len(puts) if holds else None)
        except ClientError as exc:
            if _conflict(exc, "TransactionCanceledException"):
                raise NameTaken(claim) from exc
            raise

    def _window_due(self, batch: Batch) -> dict[str, Any]:
        return self._due(batch, batch.deadline_at or 0, BATCH_DUE)

    @staticmethod
    def _due(batch: Batch, at: int, prefix: str) -> dict[str, Any]:
        at = max(at, 0)
        sk = f"{at:013d}#{batch.tenant}#{prefix}{batch.id}"
        return {"pk": {"S": DUE_PK}, "sk": {"S": sk}, "expires_at": {"N": str(at // 1000 + 86400)}}

    def withdraw_batch(self, batch: Batch, claim: NameClaim | None = None) -> None:
        keys = [self._key(batch.tenant, batch.id)]
        released = []
        if batch.reserved_e8 and batch.reserved_day:
            day = date.fromisoformat(batch.reserved_day)
            released = self.settle_items(batch.tenant, Settlement(day, batch.reserved_e8, 0))
        if claim is None and not released:
            self._ddb.delete_item(TableName=self._table, Key=keys[0])
            return
        if claim is not None:
            keys.append(DynamoTaskStore._name_key(batch.tenant, claim.namespace, claim.value))
        deletes = [{"Delete": {"TableName": self._table, "Key": k}} for k in keys]
        self.transact(deletes + released)

    def get_batch(self, tenant: str, batch_id: str) -> Batch | None:
        resp = self._ddb.get_item(TableName=self._table, Key=self._key(tenant, batch_id), ConsistentRead=True)
        item = resp.get("Item")
        return self._batch(item) if item else None

    def list_batches(self, tenant: str, *, limit: int, after: str | None) -> tuple[list[Batch], str | None]:
        items, last = self._page(tenant, BATCH_PREFIX, limit, BATCH_PREFIX + after if after else None)
        return [self._batch(i) for i in items], last.removeprefix(BATCH_PREFIX) if last else None

    def update_batch(
        self, tenant: str, batch_id: str, *, expect: Iterable[BatchStatus], changes: dict[str, Any]
    ) -> Batch:
        try:
            resp = self._ddb.update_item(
                TableName=self._table,
                Key=self._key(tenant, batch_id),
                **status_guarded_set(changes, sorted(expect), BATCH_JSON),
                ReturnValues="ALL_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            if not _conflict(exc):
                raise
            old = exc.response.get("Item")
            raise BatchChanged(self._batch(old) if old else None) from exc
        return self._batch(resp["Attributes"])

    def count_item(self, task: Task) -> Batch | None:
        """Count an ended item once: its line into its status's set, its cost into the batch's sums and, completed,
        its path. A repeated stream record finds its line already counted and adds nothing, but still returns the
        batch, so that the tracker can finish it after a crash. An ending of an older round (a re-delivered record
        of an item since retried) is not counted: None."""
        task_round = task.batch_round or 0
        same_round = "#round = :round" if task_round else "(attribute_not_exists(#round) OR #round = :round)"
        index = str(task.batch_index or 0)
        names = {"#ended": ended_set(task), "#round": "round"}
        values = {
            ":index": {"NS": [index]},
            ":i": {"N": index},
            ":c": {"N": str(cost_e8(task))},
            ":l": {"N": str(cost_on_demand_e8(task))},
            ":now": {"N": str(int(time.time() * 1000))},
            ":round": {"N": str(task_round)},
        }
        adds = "#ended :index, cost_e8 :c, cost_on_demand_e8 :l"
        if task.status == TaskStatus.COMPLETED:
            names["#path"] = PATHS_PREFIX + path_taken(task)
            values[":one"] = {"N": "1"}
            adds += ", #path :one"
        try:
            resp = self._ddb.update_item(
                TableName=self._table,
                Key=self._key(task.tenant, task.batch_id or ""),
                UpdateExpression=f"ADD {adds} SET updated_at = :now",
                ConditionExpression=f"attribute_exists(pk) AND {same_round} AND NOT contains(#ended, :i)",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
                ReturnValues="ALL_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            if not _conflict(exc):
                raise
            old = exc.response.get("Item")
            if old is None or int(old.get("round", {}).get("N", "0")) != task_round:
                return None
            counted = {int(n) for n in old.get(names["#ended"], {}).get("NS", [])}
            return self._batch(old) if int(index) in counted else None
        return self._batch(resp["Attributes"])

    def get_tasks(self, tenant: str, task_ids: Sequence[str]) -> dict[str, Task]:
        found: dict[str, Task] = {}
        for start in range(0, len(task_ids), 100):
            keys = [{"pk": {"S": tenant}, "sk": {"S": TASK_PREFIX + i}} for i in task_ids[start : start + 100]]
            request: dict[str, Any] = {self._table: {"Keys": keys, "ConsistentRead": True}}
            while request:
                resp = self._ddb.batch_get_item(RequestItems=request)
                for item in resp.get("Responses", {}).get(self._table, []):
                    task = task_from_item(item)
                    found[task.id] = task
                request = resp.get("UnprocessedKeys") or {}
        return found


class DynamoWebhookStore(_Table):
    @staticmethod
    def _key(tenant: str, delivery_id: str) -> dict[str, Any]:
        return {"pk": {"S": tenant}, "sk": {"S": DELIVERY_PREFIX + delivery_id}}

    @staticmethod
    def _delivery(item: dict[str, Any]) -> Delivery:
        return Delivery.model_validate(item_to_record(item, DELIVERY_JSON))

    @staticmethod
    def _secrets(item: dict[str, Any]) -> WebhookSecrets:
        expires = item.get("previous_expires_at")
        return WebhookSecrets(
            current=item["secret"]["S"],
            previous=item["previous"]["S"] if "previous" in item else None,
            previous_expires_at=int(expires["N"]) if expires else None,
        )

    def get_secrets(self, tenant: str) -> WebhookSecrets | None:
        resp = self._ddb.get_item(
            TableName=self._table, Key={"pk": {"S": tenant}, "sk": {"S": SECRET_KEY}}, ConsistentRead=True
        )
        item = resp.get("Item")
        return self._secrets(item) if item else None

    def put_secret(self, tenant: str, secret: str) -> WebhookSecrets:
        try:
            self.replace_secrets(tenant, WebhookSecrets(current=secret), expected=None)
        except SecretsChanged as exc:
            found = exc.current or self.get_secrets(tenant)
            if found is None:
                raise
            return found
        return WebhookSecrets(current=secret)

    def replace_secrets(self, tenant: str, secrets: WebhookSecrets, *, expected: str | None) -> None:
        item: dict[str, Any] = {"pk": {"S": tenant}, "sk": {"S": SECRET_KEY}, "secret": {"S": secrets.current}}
        if secrets.previous is not None and secrets.previous_expires_at is not None:
            item["previous"] = {"S": secrets.previous}
            item["previous_expires_at"] = {"N": str(secrets.previous_expires_at)}
        if expected is None:
            condition: dict[str, Any] = {"ConditionExpression": "attribute_not_exists(pk)"}
        else:
            condition = {
                "ConditionExpression": "secret = :expected",
                "ExpressionAttributeValues": {":expected": {"S": expected}},
            }
        try:
            self._ddb.put_item(
                TableName=self._table, Item=item, ReturnValuesOnConditionCheckFailure="ALL_OLD", **condition
            )
        except ClientError as exc:
            if not _conflict(exc):
                raise
            old = exc.response.get("Item")
            raise SecretsChanged(self._secrets(old) if old else None) from exc

    def put_delivery(self, delivery: Delivery) -> bool:
        item = record_to_item(delivery, delivery.tenant, DELIVERY_PREFIX + delivery.id, DELIVERY_JSON)
        try:
            self._ddb.put_item(TableName=self._table, Item=item, ConditionExpression="attribute_not_exists(pk)")
        except ClientError as exc:
            if _conflict(exc):
                return False
            raise
        return True

    def get_delivery(self, tenant: str, delivery_id: str) -> Delivery | None:
        resp = self._ddb.get_item(TableName=self._table, Key=self._key(tenant, delivery_id), ConsistentRead=True)
        item = resp.get("Item")
        return self._delivery(item) if item else None

    def save_delivery(self, delivery: Delivery, *, previous_count: int) -> bool:
        item = record_to_item(delivery, delivery.tenant, DELIVERY_PREFIX + delivery.id, DELIVERY_JSON)
        try:
            self._ddb.put_item(
                TableName=self._table,
                Item=item,
                ConditionExpression="attribute_exists(pk) AND attempt_count = :previous",
                ExpressionAttributeValues={":previous": {"N": str(previous_count)}},
            )
        except ClientError as exc:
            if _conflict(exc):
                return False
            raise
        return True

    def list_deliveries(
        self, tenant: str, *, limit: int, after: str | None, prefix: str = ""
    ) -> tuple[list[Delivery], str | None]:
        items, last = self._page(tenant, DELIVERY_PREFIX + prefix, limit, DELIVERY_PREFIX + after if after else None)
        return [self._delivery(i) for i in items], last.removeprefix(DELIVERY_PREFIX) if last else None
