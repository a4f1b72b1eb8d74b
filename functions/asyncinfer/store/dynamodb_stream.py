"""The table stream records that mean "a task someone waits for has ended": a task with a webhook or in a
batch (it carries `notify`) changed from unfinished to terminal, or was made terminal (a batch's item
created cancelled or failed). Lambda's filter and the local stack's poller select the same records."""

from __future__ import annotations

from typing import Any

from asyncinfer.domain.model import TERMINAL, Task, TaskStatus
from asyncinfer.store.codec import task_from_item
from asyncinfer.store.schema import NOTIFY_ATTRIBUTE, TASK_PREFIX

_TERMINAL = sorted(s.value for s in TERMINAL)
_UNFINISHED = sorted(s.value for s in TaskStatus if s not in TERMINAL)

# Lambda event filter patterns (any one matches). A DynamoDB event source mapping filters on the `dynamodb`
# key only, not on eventName (docs.aws.amazon.com/lambda/latest/dg/with-ddb-filtering.html): a MODIFY is the
# record with both images, an INSERT the one with a new image and no old status.
_ENDS_NOTIFYING = {"status": {"S": _TERMINAL}, NOTIFY_ATTRIBUTE: {"S": [{"exists": True}]}}
ENDED_FILTERS: list[dict[str, Any]] = [
    {"dynamodb": {"OldImage": {"status": {"S": _UNFINISHED}}, "NewImage": _ENDS_NOTIFYING}},
    {"dynamodb": {"OldImage": {"status": {"S": [{"exists": False}]}}, "NewImage": _ENDS_NOTIFYING}},
]


def _status(image: dict[str, Any] | None) -> str | None:
    return ((image or {}).get("status") or {}).get("S")


def ended_task(record: dict[str, Any]) -> Task | None:
    """The task a stream record shows ending, or None when the record means something else."""
    data = record.get("dynamodb") or {}
    new, old = data.get("NewImage"), data.get("OldImage")
    if not new or NOTIFY_ATTRIBUTE not in new or not new.get("sk", {}).get("S", "").startswith(TASK_PREFIX):
        return None
    if _status(new) not in _TERMINAL:
        return None
    name = record.get("eventName")
    if (name == "MODIFY" and _status(old) in _UNFINISHED) or name == "INSERT":
        return task_from_item(new)
    return None
