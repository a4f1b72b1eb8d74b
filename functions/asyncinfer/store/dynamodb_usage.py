"""A tenant's budget and usage lines, in a partition of their own (pk `usage#<tenant>`): the budget item (sk `budget`)
and one line per UTC day and model (sk `day#<YYYY-MM-DD>#<model>`), which a completion grows in the same transaction as
the task's change to COMPLETED. Money is counted in whole units of $0.00000001 (every cost has at most eight decimals),
so every sum is an integer sum: exact on DynamoDB and on any emulator, and read back as Decimal, never as a float."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date
from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError

from asyncinfer.domain.budgets import Budget, UsageLine
from asyncinfer.domain.model import ServiceTier
from asyncinfer.domain.tenants import TenantSettings
from asyncinfer.store.base import ConditionFailed
from asyncinfer.store.codec import task_from_item
from asyncinfer.store.schema import TASK_PREFIX

BUDGET_SK = "budget"
LINE_PREFIX = "day#"
# cost_e8: US dollars times 10^8; seconds_ms: seconds of audio or video times 1000.
_LINE_FIELDS = ("cost_e8", "tasks", "prompt_tokens", "completion_tokens", "total_tokens", "images", "seconds_ms")
COST_UNIT = Decimal("0.00000001")


def usage_pk(tenant: str) -> dict[str, str]:
    return {"S": f"usage#{tenant}"}


def line_key(tenant: str, day: date, model: str) -> dict[str, Any]:
    return {"pk": usage_pk(tenant), "sk": {"S": f"{LINE_PREFIX}{day.isoformat()}#{model}"}}


def _number(value: int | Decimal) -> dict[str, str]:
    return {"N": format(value.normalize(), "f") if isinstance(value, Decimal) else str(value)}


def _decimal(item: dict[str, Any], name: str) -> Decimal | None:
    return Decimal(item[name]["N"]) if name in item else None


class UsageItems:
    """Part of DynamoTaskStore: its table client and name are the store's."""

    _ddb: Any
    _table: str
    _known: Any  # DynamoTaskStore's KnownTasks
    transact: Any  # LedgerItems.transact: one transaction, tried again on conflicts
    # Told each charge once written: every charge (a worker's, the runner's, the sweeper's, a cancel's) passes
    # here, so this is where spend is counted (asyncinfer.observability.spend, given by wiring.task_store).
    on_spend: Callable[[UsageLine], None] | None = None

    def _update_counting(
        self, tenant: str, task_id: str, spend: UsageLine | None, also: list[dict[str, Any]], **update: Any
    ) -> None:
        """The task's conditional update, its spend added to the tenant's usage line and the writes `also`
        (its reservation's settlement), as one transaction: all or nothing. ConditionFailed (with the task as
        it was) when the task's condition fails."""
        key = {"pk": {"S": tenant}, "sk": {"S": TASK_PREFIX + task_id}}
        items: list[dict[str, Any]] = [
            {
                "Update": {
                    "TableName": self._table,
                    "Key": key,
                    "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                    **update,
                }
            }
        ]
        if spend is not None:
            items.append(_line_update(self._table, tenant, spend))
        try:
            self.transact(items + also)
        except ClientError as exc:
            reasons = exc.response.get("CancellationReasons") or []
            if reasons and reasons[0].get("Code") == "ConditionalCheckFailed":
                old = reasons[0].get("Item")
                raise ConditionFailed(task_from_item(old) if old else None) from exc
            raise
        finally:
            self._known.forget((tenant, task_id))
        if spend is not None and self.on_spend is not None:
            self.on_spend(spend)

    def get_budget(self, tenant: str) -> Budget:
        return self.get_settings(tenant).budget

    def get_settings(self, tenant: str) -> TenantSettings:
        """The tenant's settings item (its budget's: one read a submit), or the defaults without one."""
        item = self._ddb.get_item(
            TableName=self._table, Key={"pk": usage_pk(tenant), "sk": {"S": BUDGET_SK}}, ConsistentRead=True
        ).get("Item")
        if not item:
            return TenantSettings()
        classes = item.get("classes", {}).get("S")
        return TenantSettings(
            budget=Budget(daily=_decimal(item, "daily"), monthly=_decimal(item, "monthly")),
            classes=None if classes is None else frozenset(ServiceTier(c) for c in classes.split(",") if c),
            waiting={t: int(item[f"waiting_{t.value}"]["N"]) for t in ServiceTier if f"waiting_{t.value}" in item},
        )

    def set_classes(self, tenant: str, classes: frozenset[ServiceTier] | None, *, at: int) -> TenantSettings:
        """The classes the tenant may use (None: every class)."""
        joined = None if classes is None else {"S": ",".join(sorted(c.value for c in classes))}
        return self._set_setting(tenant, "classes", joined, at)

    def set_waiting(self, tenant: str, tier: ServiceTier, quota: int | None, *, at: int) -> TenantSettings:
        """How many of the tenant's tasks may wait in `tier` (None: no quota of the class's own)."""
        return self._set_setting(tenant, f"waiting_{tier.value}", None if quota is None else _number(quota), at)

    def _set_setting(self, tenant: str, name: str, value: dict[str, str] | None, at: int) -> TenantSettings:
        """One attribute of the tenant's settings item set (or removed, given None); the settings after it."""
        values = {":at": _number(at)}
        if value is None:
            update = f"SET updated_at = :at REMOVE {name}"
        else:
            update, values[":v"] = f"SET updated_at = :at, {name} = :v", value
        self._ddb.update_item(
            TableName=self._table,
            Key={"pk": usage_pk(tenant), "sk": {"S": BUDGET_SK}},
            UpdateExpression=update,
            ExpressionAttributeValues=values,
        )
        return self.get_settings(tenant)

    def set_budget(self, tenant: str, budget: Budget, *, at: int) -> Budget:
        sets = {"updated_at": _number(at)}
        for name in ("daily", "monthly"):
            limit = getattr(budget, name)
            if limit is not None:
                sets[name] = _number(limit)
        item = self._ddb.update_item(
            TableName=self._table,
            Key={"pk": usage_pk(tenant), "sk": {"S": BUDGET_SK}},
            UpdateExpression="SET " + ", ".join(f"#{name} = :{name}" for name in sets),
            ExpressionAttributeNames={f"#{name}": name for name in sets},
            ExpressionAttributeValues={f":{name}": value for name, value in sets.items()},
            ReturnValues="ALL_NEW",
        )["Attributes"]
        return Budget(daily=_decimal(item, "daily"), monthly=_decimal(item, "monthly"))

    def clear_budget(self, tenant: str, periods: Iterable[str]) -> Budget:
        removed = sorted(set(periods) & {"daily", "monthly"})
        if not removed:
            return self.get_budget(tenant)
        try:
            item = self._ddb.update_item(
                TableName=self._table,
                Key={"pk": usage_pk(tenant), "sk": {"S": BUDGET_SK}},
                UpdateExpression="REMOVE " + ", ".join(f"#{name}" for name in removed),
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeNames={f"#{name}": name for name in removed},
                ReturnValues="ALL_NEW",
            )["Attributes"]
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return Budget()  # there was none
            raise
        return Budget(daily=_decimal(item, "daily"), monthly=_decimal(item, "monthly"))

    def usage_lines(self, tenant: str, first: date, last: date) -> list[UsageLine]:
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            # `$` sorts right after `#`: every line of the last day, and nothing of the day after.
            "KeyConditionExpression": "pk = :pk AND sk BETWEEN :first AND :last",
            "ExpressionAttributeValues": {
                ":pk": usage_pk(tenant),
                ":first": {"S": f"{LINE_PREFIX}{first.isoformat()}#"},
                ":last": {"S": f"{LINE_PREFIX}{last.isoformat()}$"},
            },
            "ConsistentRead": True,
        }
        lines: list[UsageLine] = []
        while True:
            resp = self._ddb.query(**kwargs)
            lines.extend(_line(item) for item in resp.get("Items", []))
            if "LastEvaluatedKey" not in resp:
                return lines
            kwargs["ExclusiveStartKey"] = resp["LastEvaluatedKey"]


def _line_update(table: str, tenant: str, spend: UsageLine) -> dict[str, Any]:
    """A usage line grown by one charged task."""
    names = {f"#u{i}": name for i, name in enumerate((*_LINE_FIELDS, "model", "day"))}
    values = {
        ":u0": _number(int(spend.cost / COST_UNIT)),
        ":u1": _number(spend.tasks),
        ":u2": _number(spend.prompt_tokens),
        ":u3": _number(spend.completion_tokens),
        ":u4": _number(spend.total_tokens),
        ":u5": _number(spend.images),
        ":u6": _number(round(spend.seconds * 1000)),
        ":u7": {"S": spend.model},
        ":u8": {"S": spend.day.isoformat()},
    }
    grow = "ADD " + ", ".join(f"#u{i} :u{i}" for i in range(len(_LINE_FIELDS))) + " SET #u7 = :u7, #u8 = :u8"
    return {
        "Update": {
            "TableName": table,
            "Key": line_key(tenant, spend.day, spend.model),
            "UpdateExpression": grow,
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
        }
    }


def _line(item: dict[str, Any]) -> UsageLine:
    def count(name: str) -> int:
        return int(item[name]["N"]) if name in item else 0

    return UsageLine(
        day=date.fromisoformat(item["day"]["S"]),
        model=item["model"]["S"],
        cost=count("cost_e8") * COST_UNIT,
        tasks=count("tasks"),
        prompt_tokens=count("prompt_tokens"),
        completion_tokens=count("completion_tokens"),
        total_tokens=count("total_tokens"),
        images=count("images"),
        seconds=Decimal(count("seconds_ms")) / 1000,
    )
