"""The one operation that moves waiting items of a `complete_by` batch (or a single task) from their cheap path to
an on-demand class (asyncinfer.domain.escalation decides when and which class)."""

from __future__ import annotations

from collections.abc import Iterable

from asyncinfer.domain.lanes import TIER_PATHS
from asyncinfer.domain.model import Task, TaskStatus
from asyncinfer.queue.base import MessageQueue, TaskMessage
from asyncinfer.store.base import ConditionFailed, TaskStore

SEND_EVERY = 10


def escalate(store: TaskStore, lanes: MessageQueue, tasks: Iterable[Task], tier: str) -> int:
    """Each task still CREATED on a cheap path (a provider batch job, flex) moves to `tier`: its path, class and
    lane, conditional on it still waiting at the attempt read (one claimed meanwhile keeps its path). Then every
    task now waiting in `tier` is sent to that lane, those moved earlier included: a crash between a move and its
    send must not strand a task until the orphan sweep, and a duplicate message is fenced by the claim. Returns
    how many tasks were sent."""
    if tier not in TIER_PATHS:
        raise ValueError(f"not a class: {tier}")
    messages = []
    for task in tasks:
        if task.status != TaskStatus.CREATED:
            continue
        if task.path != tier:
            changes = {"path": tier, "service_tier": tier, "queued": tier}
            try:
                task = store.transition(
                    task.tenant, task.id, expect={TaskStatus.CREATED}, attempt=task.attempt, changes=changes
                )
            except ConditionFailed:
                continue
        messages.append(TaskMessage(tenant=task.tenant, task_id=task.id, lane=tier))
    for start in range(0, len(messages), SEND_EVERY):
        lanes.send_many(messages[start : start + SEND_EVERY])
    return len(messages)
