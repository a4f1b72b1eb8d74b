"""Which table stream records mean "a task someone waits for has ended": the notifier's own check, and the
Lambda event filter deployed for it, agree on every kind of record."""

from typing import Any

import pytest

from asyncinfer.domain.batches import item_task_id
from asyncinfer.domain.model import Task, TaskKind, TaskStatus, WebhookTarget, is_task_id, new_task_id
from asyncinfer.store.codec import task_to_item
from asyncinfer.store.dynamodb_stream import ENDED_FILTERS, ended_task

S = TaskStatus


def task(status: TaskStatus, **extra) -> Task:
    return Task(
        id=new_task_id(),
        tenant="acme",
        kind=TaskKind.CHAT,
        model="m",
        status=status,
        created_at=1,
        updated_at=1,
        **extra,
    )


def record(name: str, old: Task | None, new: Task | None) -> dict[str, Any]:
    data: dict[str, Any] = {}
    if old is not None:
        data["OldImage"] = task_to_item(old)
    if new is not None:
        data["NewImage"] = task_to_item(new)
    return {"eventName": name, "dynamodb": data}


def matches(pattern: Any, value: Any) -> bool:
    """The part of Lambda's filter syntax the patterns use: nested objects, lists of allowed values, and
    {"exists": true|false} on a leaf (a missing object has no leaves)."""
    if isinstance(pattern, dict):
        value = value if isinstance(value, dict) else {}
        return all(
            (k in value) is p[0]["exists"] if _exists(p) else matches(p, value.get(k)) for k, p in pattern.items()
        )
    return value is not None and value in pattern


def _exists(pattern: Any) -> bool:
    return isinstance(pattern, list) and len(pattern) == 1 and isinstance(pattern[0], dict) and "exists" in pattern[0]


def test_the_deployed_filters_test_only_the_dynamodb_key():
    # "DynamoDB event source mappings only support filtering on the dynamodb key" (Lambda's filtering docs).
    assert all(set(pattern) == {"dynamodb"} for pattern in ENDED_FILTERS)


HOOK = {"webhook": WebhookTarget(url="https://h.example.com")}
BATCH = {"batch_id": new_task_id(), "batch_index": 0, "custom_id": "a"}
CASES = [
    ("MODIFY", task(S.IN_PROGRESS, **HOOK), task(S.COMPLETED, **HOOK), True),
    ("MODIFY", task(S.CREATED, **BATCH), task(S.CANCELLED, **BATCH), True),
    ("MODIFY", task(S.IN_PROGRESS, **HOOK), task(S.FAILED, **HOOK), True),
    ("INSERT", None, task(S.CANCELLED, **BATCH), True),  # a cancelled batch's item, made cancelled
    ("MODIFY", task(S.IN_PROGRESS), task(S.COMPLETED), False),  # nobody waits for it
    ("MODIFY", task(S.COMPLETED, **HOOK), task(S.COMPLETED, **HOOK), False),  # e.g. the soft delete
    ("MODIFY", task(S.CREATED, **HOOK), task(S.IN_PROGRESS, **HOOK), False),
    ("INSERT", None, task(S.CREATED, **HOOK), False),
    ("REMOVE", task(S.COMPLETED, **HOOK), None, False),  # TTL
]


@pytest.mark.parametrize(("name", "old", "new", "ended"), CASES)
def test_the_notifier_and_the_deployed_filter_select_the_same_records(name, old, new, ended):
    rec = record(name, old, new)
    assert (ended_task(rec) is not None) is ended
    assert any(matches(pattern, rec) for pattern in ENDED_FILTERS) is ended
    if ended:
        assert ended_task(rec).id == new.id


def test_an_event_log_item_is_never_an_ending():
    rec = {"eventName": "INSERT", "dynamodb": {"NewImage": {"pk": {"S": "acme#x"}, "sk": {"S": "ev#0000000001"}}}}
    assert ended_task(rec) is None


def test_batch_item_ids_are_task_ids_fixed_by_batch_and_line():
    batch_id = new_task_id()
    ids = [item_task_id(batch_id, i) for i in range(1000)]
    assert all(is_task_id(i) for i in ids)
    assert len(set(ids)) == 1000
    assert ids == [item_task_id(batch_id, i) for i in range(1000)]
    assert item_task_id(new_task_id(), 0) != ids[0]
    assert {i[:12] for i in ids} == {batch_id[:12]}  # minted at the batch's time: they list together
