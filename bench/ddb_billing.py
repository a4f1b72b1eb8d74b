"""DynamoDB's on-demand billing of a run's recorded calls. A write is billed by the larger of the item before
and after it, and one index write per sparse index whose key it adds or removes (two if it changes it); a
transaction's writes twice. Neither is in a call's own parameters, so the items are followed through the run
in order: what a Put, an update's returned item or a read shows, and the SET and REMOVE clauses of the
updates that return nothing (a transaction's)."""

from __future__ import annotations

import math
import re
from typing import Any

from asyncinfer.store.schema import INFLIGHT_ATTRIBUTE, QUEUED_ATTRIBUTE
from bench.prices import READ_UNIT_BYTES, WRITE_UNIT_BYTES

INDEX_ATTRIBUTES = (INFLIGHT_ATTRIBUTE, QUEUED_ATTRIBUTE)
_CLAUSE = re.compile(r"\b(SET|REMOVE|ADD|DELETE)\b")


def attribute_bytes(name: str, value: dict[str, Any]) -> int:
    ((kind, raw),) = value.items()
    if kind == "S":
        size = len(raw.encode())
    elif kind == "N":
        size = len(str(raw)) // 2 + 1
    elif kind == "B":
        size = len(raw)
    elif kind in ("BOOL", "NULL"):
        size = 1
    elif kind == "L":
        size = 3 + sum(attribute_bytes("", v) + 1 for v in raw)
    elif kind == "M":
        size = 3 + sum(attribute_bytes(k, v) + 1 for k, v in raw.items())
    else:  # SS, NS, BS
        size = sum(len(str(v)) for v in raw)
    return len(name.encode()) + size


def item_bytes(item: dict[str, Any] | None) -> int:
    return sum(attribute_bytes(k, v) for k, v in (item or {}).items())


def write_units(item: dict[str, Any] | None) -> int:
    return max(1, math.ceil(item_bytes(item) / WRITE_UNIT_BYTES))


def read_units(total_bytes: int, consistent: bool) -> float:
    units = max(1, math.ceil(total_bytes / READ_UNIT_BYTES))
    return units if consistent else units / 2


def _key(key: dict[str, Any]) -> tuple[str, str]:
    return key["pk"]["S"], key.get("sk", {}).get("S", "")


def _updated(before: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
    """The item after an update expression's plain `name = :value` sets and its removes (ADD counters are
    left as they were: their size hardly changes)."""
    names = params.get("ExpressionAttributeNames") or {}
    values = params.get("ExpressionAttributeValues") or {}
    after = dict(before)
    parts = _CLAUSE.split(params.get("UpdateExpression", ""))
    for clause, body in zip(parts[1::2], parts[2::2], strict=True):
        for term in (t.strip() for t in body.split(",")):
            if clause == "REMOVE":
                after.pop(names.get(term, term), None)
            elif clause == "SET" and re.fullmatch(r"[#\w]+ = :\w+", term):
                name, value = (s.strip() for s in term.split("="))
                after[names.get(name, name)] = values[value]
    return after


def _index_writes(before: dict[str, Any] | None, after: dict[str, Any] | None) -> int:
    writes = 0
    for name in INDEX_ATTRIBUTES:
        old, new = (before or {}).get(name), (after or {}).get(name)
        if old != new:
            writes += 1 if old is None or new is None else 2
    return writes


class Billing:
    """Units of each call, in the order the calls were made (every phase: the items' states carry over)."""

    def __init__(self) -> None:
        self._items: dict[tuple[str, str], dict[str, Any]] = {}

    def _write(self, key: tuple[str, str], after: dict[str, Any] | None) -> tuple[int, int]:
        """(write units, index writes) of one item's write, the item left as `after` (None: deleted)."""
        before = self._items.get(key)
        units = max(write_units(before) if before else 1, write_units(after) if after else 1)
        if after is None:
            self._items.pop(key, None)
        else:
            self._items[key] = after
        return units, _index_writes(before, after)

    def units(self, call: Any) -> tuple[float, float, int]:
        """(write units, read units, index writes) of a DynamoDB call."""
        params, response, op = call.params, call.response, call.operation
        failed = "Error" in response
        if op == "GetItem":
            if "Item" in response:
                self._items[_key(params["Key"])] = response["Item"]
            return 0, read_units(item_bytes(response.get("Item")), bool(params.get("ConsistentRead"))), 0
        if op in ("Query", "Scan"):
            items = response.get("Items")
            # Select=COUNT returns no items: what was read is Count keys-only index entries (~100 bytes).
            size = sum(item_bytes(i) for i in items) if items is not None else 100 * response.get("Count", 0)
            return 0, read_units(size, bool(params.get("ConsistentRead"))), 0
        if failed:  # a refused conditional write is billed as a write of the item; nothing changed
            key = params.get("Key") or params.get("Item")
            return (write_units(self._items.get(_key(key))) if key else 1), 0, 0
        if op == "PutItem":
            units, index = self._write(_key(params["Item"]), params["Item"])
            return units, 0, index
        if op == "UpdateItem":
            key = _key(params["Key"])
            after = response.get("Attributes") or _updated(self._items.get(key, params["Key"]), params)
            units, index = self._write(key, after)
            return units, 0, index
        if op == "DeleteItem":
            units, index = self._write(_key(params["Key"]), None)
            return units, 0, index
        if op == "TransactWriteItems":
            total_units, total_index = 0, 0
            for action in params["TransactItems"]:
                ((kind, body),) = action.items()
                if kind == "ConditionCheck":
                    continue
                if kind == "Put":
                    units, index = self._write(_key(body["Item"]), body["Item"])
                elif kind == "Delete":
                    units, index = self._write(_key(body["Key"]), None)
                else:
                    key = _key(body["Key"])
                    units, index = self._write(key, _updated(self._items.get(key, body["Key"]), body))
                total_units += 2 * units
                total_index += index
            return total_units, 0, total_index
        return 0, 0, 0
