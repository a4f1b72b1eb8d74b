"""The one call that sends a part of a batch up as one provider batch job (asyncinfer.domain.batch_parts,
asyncinfer.runner.batch_jobs): the part's record, then its runner execution."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from datetime import date
from typing import Any, Protocol

from asyncinfer.blobs.base import BlobStore
from asyncinfer.domain.batch_parts import PartPlan, execution_name, part_event, part_prefix, plan_parts
from asyncinfer.domain.batches import item_task_id
from asyncinfer.domain.catalog import LOCAL, ModelRegistry, ModelSpec
from asyncinfer.domain.deadlines import BATCH_EXPIRED, BATCH_EXPIRED_MESSAGE
from asyncinfer.domain.errors import BudgetExceeded
from asyncinfer.domain.lanes import BATCH_LANE, TIER_PATHS
from asyncinfer.domain.model import Task, TaskStatus, now_ms
from asyncinfer.domain.records import Batch, BatchEndpoint, BatchStatus
from asyncinfer.domain.reservations import Hold
from asyncinfer.domain.sealing import Sealer, open_body
from asyncinfer.queue.base import MessageQueue, TaskMessage
from asyncinfer.store.base import BatchStore, ConditionFailed, HoldRefused, TaskStore
from asyncinfer.tasks.outcomes import Outcome, fail_unclaimed

# Task.path of a batch item in a part (never queued) and of one its part handed back (queued as any item).
PROVIDER_BATCH = "provider_batch"
ON_DEMAND = "on_demand"
CHAT_ENDPOINTS = (BatchEndpoint.ASYNC, BatchEndpoint.CHAT_COMPLETIONS)
SEND_EVERY = 10
BUDGET_REFUSED_MESSAGE = (
    "Its provider batch job did not answer it, and running it on demand does not fit in this tenant's budget"
)


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
    store: TaskStore,
    batches: BatchStore,
    items: MessageQueue | None,
    tenant: str,
    batch_id: str,
    indexes: list[int],
    blobs: BlobStore | None = None,
) -> dict[str, int]:
    """A part's items its job did not answer (stopped, expired upstream, too few to start), but for those escalated
    to a class: queued in the batch lane as any item (path `on_demand`) while the batch's window is open, else
    failed `batch_expired` as the batch's expiry does. A cancelling batch's are left to its cancel (the batch
    function cancels every item not ended). Each change is conditional on the item still waiting: running it
    again is harmless. An item held at the batch price first holds its on-demand price (its input line keeps it):
    one that no longer fits the tenant's budget fails `budget_exceeded`, charged nothing."""
    batch = batches.get_batch(tenant, batch_id)
    done = {"queued": 0, "expired": 0, "refused": 0}
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
    rising = {task.batch_index for task in waiting if task.status == TaskStatus.CREATED and task.reserved_e8}
    on_demand = _on_demand_shares(blobs, batch, rising) if blobs and rising else {}
    for task in waiting:
        if task.status != TaskStatus.CREATED:
            continue  # claimed by the part's collect, which ends it
        if not _hold_on_demand(store, task, on_demand.get(task.batch_index)):
            done["refused"] += 1
            continue
        with contextlib.suppress(ConditionFailed):
            store.transition(tenant, task.id, expect={TaskStatus.CREATED}, changes={"path": ON_DEMAND})
            messages.append(TaskMessage(tenant=tenant, task_id=task.id, lane=BATCH_LANE))
    for start in range(0, len(messages), SEND_EVERY):
        items.send_many(messages[start : start + SEND_EVERY])
    done["queued"] = len(messages)
    return done


def _on_demand_shares(blobs: BlobStore, batch: Batch, indexes: set[int | None]) -> dict[int, int]:
    """The on-demand reservation of each of the batch's lines at `indexes` that reserved at the batch price."""
    if not batch.reserved_day:
        return {}
    shares = {}
    for index, raw in enumerate(blobs.lines(batch.input_key)):
        if index in indexes and raw.strip():
            share = json.loads(raw).get("reserved_on_demand_e8")
            if share:
                shares[index] = share
    return shares


def _hold_on_demand(store: TaskStore, task: Task, share: int | None) -> bool:
    """`task` (waiting, held at the batch price) holds `share`, its on-demand price, before it runs on demand; False
    when that does not fit its tenant's budget (the task then failed `budget_exceeded`). True too when it changed
    meanwhile: the caller's conditional move finds it so."""
    if share is None or task.reserved_e8 is None or share <= task.reserved_e8 or task.reserved_day is None:
        return True
    hold = Hold(date.fromisoformat(task.reserved_day), share, store.get_settings(task.tenant).budget)
    try:
        store.rehold(task, hold)
    except ConditionFailed:
        return True
    except HoldRefused:
        fail_unclaimed(store, task, BudgetExceeded.code, BUDGET_REFUSED_MESSAGE)
        return False
    return True
