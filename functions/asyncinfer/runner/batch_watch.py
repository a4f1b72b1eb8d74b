"""The watch of a `complete_by` batch's part (asyncinfer.runner.batch_jobs): at each poll of its running job, whether
the batch's remaining items must leave the job for an on-demand class now (asyncinfer.domain.escalation), and when
to look again at the latest. Without `complete_by` it is the default watch (a cancelling batch, the window's end)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Protocol

from asyncinfer.domain.catalog import LOCAL, BatchApi, ModelRegistry, ModelSpec
from asyncinfer.domain.errors import ClassNotAllowed
from asyncinfer.domain.escalation import Outlook, escalation_tier, item_ms, next_look_ms, should_escalate
from asyncinfer.domain.model import ServiceTier, TaskKind
from asyncinfer.domain.records import Batch
from asyncinfer.domain.tenants import TenantSettings
from asyncinfer.providers.batch_jobs import BatchJobs, BatchJobState
from asyncinfer.queue.base import MessageQueue
from asyncinfer.runner.batch_jobs import BatchJobSteps, Look, Watch, stop_when_cancelled_or_late
from asyncinfer.store.base import BatchStore, TaskStore
from asyncinfer.tasks.batch_escalation import BatchEscalation
from asyncinfer.tasks.provider_parts import hand_back
from asyncinfer.tasks.webhooks import Webhooks
from asyncinfer.tasks.worker import Worker

DEFAULT_POLL_SECONDS = 60


class Capacity(Protocol):
    """What on-demand can take (asyncinfer.config.EscalationSettings)."""

    default_lane_slots: int
    priority_lane_slots: int
    demo_chat_seconds: float


def cheap_finish(state: BatchJobState, api: BatchApi | None, now: int) -> int | None:
    """When the job is expected to end every record (epoch ms): its pace so far, extrapolated to its total, once it
    reports records processed; before that, the provider's usual turnaround; None without either."""
    started = state.started_ms
    if started is None:
        return None
    if state.processed > 0 and state.total > 0:
        return started + math.ceil(max(0, now - started) * state.total / state.processed)
    if api is not None and api.expected_seconds is not None:
        return started + api.expected_seconds * 1000
    return None


def _may_use_priority(settings: TenantSettings) -> bool:
    try:
        settings.check_class(ServiceTier.PRIORITY)
    except ClassNotAllowed:
        return False
    return True


def escalate_when_late(settings: Capacity, store: TaskStore, registry: ModelRegistry) -> Watch:
    """A watch for the part runner: the default one's decision, and for a `complete_by` batch, escalation."""

    def watch(batch: Batch | None, state: BatchJobState, now: int, model: str) -> Look:
        look = stop_when_cancelled_or_late(batch, state, now)
        if look.stop or batch is None or batch.complete_by is None:
            return look
        spec = registry.resolve(model, TaskKind.CHAT)
        api = registry.batch_api(spec)
        demo = settings.demo_chat_seconds if spec.provider == LOCAL else None
        outlook = Outlook(
            now_ms=now,
            deadline_ms=batch.complete_by,
            remaining=batch.total - batch.ended,
            item_ms=item_ms(spec.item_seconds, demo),
            slots=settings.default_lane_slots,
            cheap_finish_ms=cheap_finish(state, api, now),
        )
        if should_escalate(outlook):
            allowed = _may_use_priority(store.get_settings(batch.tenant))
            tier = escalation_tier(outlook, settings.default_lane_slots, settings.priority_lane_slots, allowed)
            return Look(stop=True, escalate=tier, within_seconds=1)
        poll_ms = (api.poll_seconds if api is not None else DEFAULT_POLL_SECONDS) * 1000
        within = max(1, math.ceil((next_look_ms(outlook, poll_ms) - now) / 1000))
        if look.within_seconds is not None:
            within = min(within, look.within_seconds)
        return Look(stop=False, within_seconds=within)

    return watch


@dataclass(frozen=True)
class PartQueues:
    """Where the part runner sends items: handed back (the batch-items lane), escalated (by class; the default
    class's lane is the Lanes' default), and `batch.escalated` (None: not announced)."""

    items: MessageQueue | None
    lanes: MessageQueue | None
    webhooks: Webhooks | None


def part_steps(
    worker: Worker,
    batches: BatchStore,
    jobs_for: Callable[[ModelSpec], BatchJobs | None],
    queues: PartQueues,
    capacity: Capacity,
    public_id: Callable[[str], str],
) -> BatchJobSteps:
    """The part runner: unanswered items handed back, and, for a `complete_by` batch, the escalation watch and its
    move of the part's waiting items (without a lane to move them to, the default watch)."""
    on_absent = partial(hand_back, worker.store, batches, queues.items, blobs=worker.blobs)
    if queues.lanes is None:
        return BatchJobSteps(worker, batches, jobs_for, on_absent=on_absent)
    moves = BatchEscalation(worker.store, batches, queues.lanes, queues.webhooks, public_id)
    watch = escalate_when_late(capacity, worker.store, worker.registry)
    return BatchJobSteps(worker, batches, jobs_for, on_absent=on_absent, watch=watch, on_escalate=moves.items)
