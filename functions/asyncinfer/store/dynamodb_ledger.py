"""A tenant's ledger: one item per UTC day and one per month (pk `usage#<tenant>`, sk `held#2025-06-15` and
`held#2025-06`), each counting `held_e8` (spent + reserved) and `reserved_e8` in units of $0.00000001.
A reservation adds to both, on condition that `held_e8` leaves room for it under the period's limit, in the
transaction that accepts the work; a settlement moves it from reserved to spent (its actual cost) in the
transaction that ends the work. DynamoDB has no arithmetic in conditions, so the room is computed here
(limit - amount) and compared with the one counter that holds the sum."""

from __future__ import annotations

import random
import time
from datetime import date
from typing import Any

from botocore.exceptions import ClientError

from asyncinfer.domain.budgets import Period
from asyncinfer.domain.model import Task, TaskStatus
from asyncinfer.domain.reservations import Hold, Settlement
from asyncinfer.store.base import ConditionFailed, HoldRefused, LedgerFigures
from asyncinfer.store.dynamodb_usage import usage_pk
from asyncinfer.store.schema import TASK_PREFIX

HELD_PREFIX = "held#"
# Submits and endings of one tenant meet on its ledger items; DynamoDB cancels a transaction that meets
# another on the same item (TransactionConflict), and it is tried again a few times, jittered.
CONFLICT_ATTEMPTS = 8
CONFLICT_BACKOFF_SECONDS = 0.01


def period_sk(period: Period, day: date) -> str:
    return HELD_PREFIX + (day.isoformat() if period == Period.DAILY else day.isoformat()[:7])


def _count(item: dict[str, Any] | None, name: str) -> int:
    return int(item[name]["N"]) if item and name in item else 0


class LedgerItems:
    """Part of DynamoTaskStore: its table client and name are the store's."""

    _ddb: Any
    _table: str
    _known: Any = None  # DynamoTaskStore's KnownTasks: a task written here is no longer as the store last wrote it

    def _ledger_update(self, tenant: str, period: Period, day: date, held: int, reserved: int) -> dict[str, Any]:
        return {
            "Update": {
                "TableName": self._table,
                "Key": {"pk": usage_pk(tenant), "sk": {"S": period_sk(period, day)}},
                "UpdateExpression": "ADD held_e8 :held, reserved_e8 :reserved",
                "ExpressionAttributeValues": {":held": {"N": str(held)}, ":reserved": {"N": str(reserved)}},
            }
        }

    def hold_items(self, tenant: str, hold: Hold | None) -> list[dict[str, Any]]:
        """The writes of a reservation, each period's refused past its room; none for a free request."""
        if hold is None or hold.amount_e8 <= 0:
            return []
        items = []
        for period in Period:
            item = self._ledger_update(tenant, period, hold.day, hold.amount_e8, hold.amount_e8)
            room = hold.room_e8(period)
            if room is not None:
                # A hold larger than the limit never fits, not even in a period with nothing held yet.
                fits = "attribute_not_exists(held_e8) OR held_e8 <= :room" if room >= 0 else "held_e8 <= :room"
                item["Update"]["ConditionExpression"] = fits
                item["Update"]["ExpressionAttributeValues"][":room"] = {"N": str(room)}
                item["Update"]["ReturnValuesOnConditionCheckFailure"] = "ALL_OLD"
            items.append(item)
        return items

    def settle_items(self, tenant: str, settlement: Settlement | None) -> list[dict[str, Any]]:
        """The writes of a settlement: the reservation released, the cost spent (never refused: the work is done)."""
        if settlement is None or (settlement.reserved_e8 == 0 and settlement.cost_e8 == 0):
            return []
        moved = settlement.cost_e8 - settlement.reserved_e8
        return [
            self._ledger_update(tenant, period, settlement.day, moved, -settlement.reserved_e8) for period in Period
        ]

    def transact(self, items: list[dict[str, Any]], holds_from: int | None = None) -> None:
        """One transaction, tried again on conflicts. A hold among items[holds_from:] that does not fit
        raises HoldRefused; any other cancellation is the caller's to read (TransactionCanceledException)."""
        for attempt in range(CONFLICT_ATTEMPTS):
            try:
                self._ddb.transact_write_items(TransactItems=items)
                return
            except ClientError as exc:
                if exc.response["Error"]["Code"] != "TransactionCanceledException":
                    raise
                reasons = exc.response.get("CancellationReasons") or []
                if holds_from is not None:
                    for index, reason in enumerate(reasons[holds_from:]):
                        if reason.get("Code") == "ConditionalCheckFailed" and index < len(Period):
                            old = reason.get("Item")
                            period = list(Period)[index]
                            raise HoldRefused(period, _count(old, "held_e8"), _count(old, "reserved_e8")) from exc
                conflict = any(reason.get("Code") == "TransactionConflict" for reason in reasons)
                failed = any(reason.get("Code") == "ConditionalCheckFailed" for reason in reasons)
                if failed or not conflict or attempt == CONFLICT_ATTEMPTS - 1:
                    raise
                time.sleep(random.uniform(0, CONFLICT_BACKOFF_SECONDS * 2**attempt))

    def rehold(self, task: Task, hold: Hold) -> None:
        """A running task's reservation becomes `hold.amount_e8` (what it has used so far and its next model
        turn's bound; or a waiting one's, its on-demand price): its record and its tenant's ledger move together by
        the difference, a rise on condition that the limit leaves room for it (HoldRefused), on condition that the
        task is still in its status and attempt as read, and its reservation as read in `task` (ConditionFailed)."""
        before = task.reserved_e8 or 0
        delta = hold.amount_e8 - before
        as_read = TaskStatus.CREATED if task.status == TaskStatus.CREATED else TaskStatus.IN_PROGRESS
        values = {
            ":amount": {"N": str(hold.amount_e8)},
            ":as_read": {"S": as_read.value},
            ":attempt": {"N": str(task.attempt)},
        }
        same = "attribute_not_exists(reserved_e8)"
        if task.reserved_e8 is not None:
            same, values[":before"] = "reserved_e8 = :before", {"N": str(before)}
        record = {
            "Update": {
                "TableName": self._table,
                "Key": {"pk": {"S": task.tenant}, "sk": {"S": TASK_PREFIX + task.id}},
                "UpdateExpression": "SET reserved_e8 = :amount, reserved_day = :day",
                "ConditionExpression": f"#status = :as_read AND attempt = :attempt AND {same}",
                "ExpressionAttributeNames": {"#status": "status"},
                "ExpressionAttributeValues": {**values, ":day": {"S": hold.day.isoformat()}},
            }
        }
        if delta > 0:
            moves = self.hold_items(task.tenant, Hold(hold.day, delta, hold.budget))
        else:
            moves = (
                [self._ledger_update(task.tenant, period, hold.day, delta, delta) for period in Period] if delta else []
            )
        try:
            self.transact([record, *moves], holds_from=1 if delta > 0 else None)
        except ClientError as exc:
            reasons = exc.response.get("CancellationReasons") or []
            if reasons and reasons[0].get("Code") == "ConditionalCheckFailed":
                raise ConditionFailed(None) from exc
            raise
        finally:
            if self._known is not None:
                self._known.forget((task.tenant, task.id))

    def ledger(self, tenant: str, day: date) -> dict[Period, LedgerFigures]:
        """The tenant's ledger of `day` and of its month, read consistently."""
        figures = {}
        for period in Period:
            item = self._ddb.get_item(
                TableName=self._table,
                Key={"pk": usage_pk(tenant), "sk": {"S": period_sk(period, day)}},
                ConsistentRead=True,
            ).get("Item")
            figures[period] = LedgerFigures(_count(item, "held_e8"), _count(item, "reserved_e8"))
        return figures
