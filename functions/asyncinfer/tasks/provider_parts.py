"""The one call that sends a part of a batch up as one provider batch job (asyncinfer.domain.batch_parts,
asyncinfer.runner.batch_jobs): the part's record, then its runner execution."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from typing import Any, Protocol

from asyncinfer.blobs.base import BlobStore
from asyncinfer.domain.batch_parts import PartPlan, execution_name, part_event, part_prefix, plan_parts
from asyncinfer.domain.batches import item_task_id
from asyncinfer.domain.catalog import LOCAL, ModelRegistry, ModelSpec
from asyncinfer.domain.deadlines import BATCH_EXPIRED, BATCH_EXPIRED_MESSAGE
from asyncinfer.domain.lanes import BATCH_LANE, TIER_PATHS
from asyncinfer.domain.model import TaskStatus, now_ms
from asyncinfer.domain.records import Batch, BatchEndpoint, BatchStatus
from asyncinfer.domain.sealing import Sealer, open_body
from asyncinfer.queue.base import MessageQueue, TaskMessage
from asyncinfer.store.base import BatchStore, ConditionFailed, TaskStore
from asyncinfer.tasks.outcomes import Outcome, fail_unclaimed

# Task.path of a batch item in a part (never queued) and of one its part handed back (queued as any item).
PROVIDER_BATCH = "provider_batch"
ON_DEMAND = "on_demand"
CHAT_ENDPOINTS = (BatchEndpoint.ASYNC, BatchEndpoint.CHAT_COMPLETIONS)
SEND_EVERY = 10


class NamedExecutions(Protocol):
    def start_named(self, name: str, event: dict) -> str: ...


def start_part(
    executions: NamedExecutions,
    blobs: BlobStore,
    tenant: str,
    batch_id: str,
    part: int,
    model: str,
    indexes: list[int],
    complete_by: int | None = None,
) -> str:
    """The part's record (its model, the items' indexes and the batch's `complete_by`, which the runner watches),
    then its execution; the execution's ARN. Repeating it is harmless: the same record, the same execution name.
    Its items must be CREATED and not queued."""
    record: dict[str, Any] = {"model": model, "indexes": sorted(indexes)}
    if complete_by is not None:
        record["complete_by"] = complete_by
    blobs.put(f"{part_prefix(tenant, batch_id, part)}/part.json", json.dumps(record).encode(), "application/json")
    return executions.start_named(execution_name(batch_id, part), part_event(tenant, batch_id, part))


def usable_here(local_jobs: bool) -> Callable[[ModelSpec], bool]:
    """Which models' batch jobs this deployment can start: a provider's always, the demo models' only where the
    local stand-ins run (elsewhere their items run on demand)."""
    return lambda spec: spec.provider != LOCAL or local_jobs


def parted_lines(
    registry: ModelRegistry, endpoint: BatchEndpoint, bodies: list[dict[str, Any]], local_jobs: bool
) -> set[int]:
    """The lines of a batch being submitted that its parts will hold (they reserve at the batch price)."""
    if endpoint not in CHAT_ENDPOINTS:
        return set()
    parts = plan_parts(registry, list(enumerate(bodies)), usable=usable_here(local_jobs))
    return {index for part in parts for index in part.indexes}


def plan_batch_parts(
    registry: ModelRegistry, batch: Batch, lines: list[dict[str, Any]], sealer: Sealer, local_jobs: bool
) -> list[PartPlan]:
    """The parts of a chat batch's stored input lines (none for other endpoints)."""
    if batch.endpoint not in CHAT_ENDPOINTS:
        return []
    opened = [(index, open_body(sealer, line["body"], batch.tenant, batch.id)) for index, line in enumerate(lines)]
    return plan_parts(registry, opened, usable=usable_here(local_jobs))


def hand_back(
    store: TaskStore, batches: BatchStore, items: MessageQueue | None, tenant: str, batch_id: str, indexes: list[int]
) -> dict[str, int]:
    """A part's items its job did not answer (stopped, expired upstream, too few to start), but for those escalated
    to a class: queued in the batch lane as any item (path `on_demand`) while the batch's window is open, else
    failed `batch_expired` as the batch's expiry does. A cancelling batch's are left to its cancel (the batch
    function cancels every item not ended). Each change is conditional on the item still waiting: running it
    again is harmless."""
    batch = batches.get_batch(tenant, batch_id)
    done = {"queued": 0, "expired": 0}
    if batch is None or batch.status == BatchStatus.CANCELLING:
        return done
    tasks = batches.get_tasks(tenant, [item_task_id(batch_id, index) for index in indexes])
    # An escalated item (complete_by) waits in its class's lane: that lane ends it, or the batch's expiry does.
    waiting = [task for task in tasks.values() if not task.terminal and task.path not in TIER_PATHS]
    window_open = batch.status == BatchStatus.IN_PROGRESS and (
        batch.deadline_at is None or now_ms() < batch.deadline_at
    )
    if not window_open or items is None:
        for task in waiting:
            done["expired"] += fail_unclaimed(store, task, BATCH_EXPIRED, BATCH_EXPIRED_MESSAGE) == Outcome.FAILED
        return done
    messages = []
    for task in waiting:
        if task.status != TaskStatus.CREATED:
            continue  # claimed by the part's collect, which ends it
        with contextlib.suppress(ConditionFailed):
            store.transition(tenant, task.id, expect={TaskStatus.CREATED}, changes={"path": ON_DEMAND})
            messages.append(TaskMessage(tenant=tenant, task_id=task.id, lane=BATCH_LANE))
    for start in range(0, len(messages), SEND_EVERY):
        items.send_many(messages[start : start + SEND_EVERY])
    done["queued"] = len(messages)
    return done
