"""Records as DynamoDB items and back: scalars as attributes, structured fields as one JSON string each."""

from __future__ import annotations

import json
from collections.abc import Sequence
from decimal import Decimal
from enum import StrEnum
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from pydantic import BaseModel
from pydantic_core import to_jsonable_python

from asyncinfer.domain.lanes import lane_of
from asyncinfer.domain.model import TERMINAL, Task, TaskStatus
from asyncinfer.store.schema import (
    BATCH_INFLIGHT_SUFFIX,
    INFLIGHT_ATTRIBUTE,
    JSON_FIELDS,
    NOTIFY_ATTRIBUTE,
    QUEUED_ATTRIBUTE,
    TASK_PREFIX,
)

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def encode(name: str, value: Any, json_fields: frozenset[str] = JSON_FIELDS) -> dict[str, Any]:
    if isinstance(value, BaseModel | list):
        value = to_jsonable_python(value, exclude_none=True)
    if name in json_fields:
        value = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return _serializer.serialize(value)


def status_guarded_set(
    changes: dict[str, Any], expected: Sequence[StrEnum], json_fields: frozenset[str] = JSON_FIELDS
) -> dict[str, Any]:
    """UpdateItem arguments that set `changes` on condition that the item exists and its status is one of
    `expected`; a caller adds its own clauses to the expressions, names and values."""
    names = {"#status": "status"}
    values = {f":e{i}": {"S": status.value} for i, status in enumerate(expected)}
    condition = f"attribute_exists(pk) AND #status IN ({', '.join(values)})"
    sets = []
    for i, (name, value) in enumerate(changes.items()):
        names[f"#c{i}"] = name
        values[f":c{i}"] = encode(name, value, json_fields)
        sets.append(f"#c{i} = :c{i}")
    return {
        "UpdateExpression": "SET " + ", ".join(sets),
        "ConditionExpression": condition,
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": values,
    }


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def decode(item: dict[str, Any], json_fields: frozenset[str] = JSON_FIELDS) -> dict[str, Any]:
    out = {}
    for name, raw in item.items():
        value = _plain(_deserializer.deserialize(raw))
        out[name] = json.loads(value) if name in json_fields else value
    return out


def record_to_item(record: BaseModel, pk: str, sk: str, json_fields: frozenset[str]) -> dict[str, Any]:
    """A record other than a task (a batch, a webhook delivery) as an item: flat, nested parts as JSON."""
    item = {"pk": {"S": pk}, "sk": {"S": sk}}
    for name, value in record.model_dump(mode="json", exclude_none=True).items():
        item[name] = encode(name, value, json_fields)
    return item


def item_to_record(item: dict[str, Any], json_fields: frozenset[str]) -> dict[str, Any]:
    return {k: v for k, v in decode(item, json_fields).items() if k not in ("pk", "sk")}


def task_from_item(item: dict[str, Any]) -> Task:
    return Task.model_validate(decode(item))


def task_to_item(task: Task) -> dict[str, Any]:
    item = {"pk": _serializer.serialize(task.tenant), "sk": _serializer.serialize(TASK_PREFIX + task.id)}
    for name, value in task.model_dump(mode="json", exclude_none=True).items():
        item[name] = encode(name, value)
    if task.status not in TERMINAL:
        item[INFLIGHT_ATTRIBUTE] = {"S": task.tenant + (BATCH_INFLIGHT_SUFFIX if task.batch_id else "")}
    if task.status == TaskStatus.CREATED:
        item[QUEUED_ATTRIBUTE] = {"S": lane_of(task)}
    if task.webhook is not None or task.batch_id is not None:
        item[NOTIFY_ATTRIBUTE] = {"S": "1"}
    return item
