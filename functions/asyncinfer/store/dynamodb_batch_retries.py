"""A batch's retries in DynamoDB: the ended sets read, and a round started in one transaction with its hold."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from asyncinfer.domain.records import Batch, BatchStatus
from asyncinfer.domain.reservations import Hold
from asyncinfer.store.base import BatchChanged
from asyncinfer.store.batch_retries import RetryRound

# What a finished batch carries that a running one does not have.
ENDED_FIELDS = ("ended_at", "results_key", "output_key", "errors_key")


class BatchRetryItems:
    """Part of DynamoBatchStore: its table, keys, window dues and ledger writes are the store's."""

    _ddb: Any
    _table: str

    def ended_lines(self, tenant: str, batch_id: str) -> dict[str, set[int]]:
        resp = self._ddb.get_item(TableName=self._table, Key=self._key(tenant, batch_id), ConsistentRead=True)
        item = resp.get("Item") or {}
        return {name: {int(n) for n in value["NS"]} for name, value in item.items() if "NS" in value}

    def start_round(self, batch: Batch, retry: RetryRound, hold: Hold | None) -> Batch:
        names = {"#status": "status", "#round": "round"}
        values: dict[str, Any] = {
            ":running": {"S": BatchStatus.IN_PROGRESS.value},
            ":completed": {"S": BatchStatus.COMPLETED.value},
            ":expired": {"S": BatchStatus.EXPIRED.value},
            ":round": {"N": str(retry.round)},
            ":previous": {"N": str(retry.round - 1)},
            ":now": {"N": str(retry.now)},
        }
        sets = ["#status = :running", "#round = :round", "updated_at = :now"]
        removes = list(ENDED_FIELDS)
        if retry.deadline_at is not None:
            sets.append("deadline_at = :deadline")
            values[":deadline"] = {"N": str(retry.deadline_at)}
        else:
            removes.append("deadline_at")
        if retry.completion_window is not None:
            sets.append("completion_window = :window")
            values[":window"] = {"S": retry.completion_window}
        if retry.reserved_day is not None:
            sets.append("reserved_day = :day")
            values[":day"] = {"S": retry.reserved_day}
        deletes = []
        for name, lines in (("failed_items", retry.failed), ("expired_items", retry.expired)):
            if lines:
                deletes.append(f"{name} :{name}")
                values[f":{name}"] = {"NS": [str(n) for n in sorted(lines)]}
        expression = f"SET {', '.join(sets)} REMOVE {', '.join(removes)}"
        if deletes:
            expression += f" DELETE {', '.join(deletes)}"
        previous = "#round = :previous" if retry.round > 1 else "(attribute_not_exists(#round) OR #round = :previous)"
        update = {
            "TableName": self._table,
            "Key": self._key(batch.tenant, batch.id),
            "UpdateExpression": expression,
            "ConditionExpression": f"attribute_exists(pk) AND #status IN (:completed, :expired) AND {previous}",
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
        }
        items: list[dict[str, Any]] = [{"Update": update}]
        if retry.deadline_at is not None:
            window = batch.model_copy(update={"deadline_at": retry.deadline_at})
            items.append({"Put": {"TableName": self._table, "Item": self._window_due(window)}})
        holds = self.hold_items(batch.tenant, hold)
        try:
            self.transact(items + holds, holds_from=len(items) if holds else None)
        except ClientError as exc:
            reasons = exc.response.get("CancellationReasons") or []
            if reasons and reasons[0].get("Code") == "ConditionalCheckFailed":
                raise BatchChanged(self.get_batch(batch.tenant, batch.id)) from exc
            raise
        current = self.get_batch(batch.tenant, batch.id)
        assert current is not None
        return current
