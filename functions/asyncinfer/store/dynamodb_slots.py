"""A tenant's long-task slots (asyncinfer.tasks.long_slots) in the task table: one item per tenant,
pk `_long#<tenant>` (not a tenant: tenants match ^[a-z0-9]), sk `slots`, whose string set `holders` names the
tasks holding one. It changes only by conditional updates, so the set never grows past the cap."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from botocore.exceptions import ClientError

from asyncinfer.domain.model import TaskStatus
from asyncinfer.store.schema import TASK_PREFIX

SLOTS_PK_PREFIX = "_long#"
SLOTS_SK = "slots"
HOLDERS = "holders"


class DynamoLongSlots:
    def __init__(self, client: Any, table_name: str) -> None:
        self._ddb = client
        self._table = table_name

    @staticmethod
    def _key(tenant: str) -> dict[str, Any]:
        return {"pk": {"S": SLOTS_PK_PREFIX + tenant}, "sk": {"S": SLOTS_SK}}

    def take(self, tenant: str, task_id: str, cap: int) -> list[str] | None:
        """Add `task_id` to the holders if fewer than `cap` hold a slot (or it holds one already): None. Else
        nothing changes and the answer is the holders (read in the same request)."""
        try:
            self._ddb.update_item(
                TableName=self._table,
                Key=self._key(tenant),
                UpdateExpression="ADD #holders :me",
                # An empty set is no attribute at all in DynamoDB: no holders.
                ConditionExpression=(
                    "attribute_not_exists(#holders) OR size(#holders) < :cap OR contains(#holders, :id)"
                ),
                ExpressionAttributeNames={"#holders": HOLDERS},
                ExpressionAttributeValues={":me": {"SS": [task_id]}, ":cap": {"N": str(cap)}, ":id": {"S": task_id}},
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            return sorted(exc.response.get("Item", {}).get(HOLDERS, {}).get("SS", []))
        return None

    def give_back(self, tenant: str, task_ids: Iterable[str]) -> None:
        """Remove these holders (those not holding one are ignored)."""
        ids = sorted(set(task_ids))
        if ids:
            self._ddb.update_item(
                TableName=self._table,
                Key=self._key(tenant),
                UpdateExpression="DELETE #holders :ids",
                ExpressionAttributeNames={"#holders": HOLDERS},
                ExpressionAttributeValues={":ids": {"SS": ids}},
            )

    def holders(self, tenant: str) -> list[str]:
        item = self._ddb.get_item(TableName=self._table, Key=self._key(tenant), ConsistentRead=True).get("Item", {})
        return sorted(item.get(HOLDERS, {}).get("SS", []))

    def status_of(self, tenant: str, task_id: str) -> TaskStatus | None:
        """The task's status now (a strongly consistent read of that attribute alone); None if it is gone."""
        item = self._ddb.get_item(
            TableName=self._table,
            Key={"pk": {"S": tenant}, "sk": {"S": TASK_PREFIX + task_id}},
            ConsistentRead=True,
            ProjectionExpression="#status",
            ExpressionAttributeNames={"#status": "status"},
        ).get("Item")
        return TaskStatus(item["status"]["S"]) if item else None
