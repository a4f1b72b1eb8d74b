"""The batch function's side of a batch: its items made (each with its deterministic id, so a run after a
crash makes only what is missing), the ones waiting queued in the batch lane, the unfinished ones
cancelled when the batch is, and failed `batch_expired` once its completion window ended."""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from asyncinfer.domain.batch_parts import PartPlan
from asyncinfer.domain.batches import item_task_id
from asyncinfer.domain.deadlines import BATCH_EXPIRED, BATCH_EXPIRED_MESSAGE, escalate_at
from asyncinfer.domain.errors import InvalidRequest, TaskNotFound
from asyncinfer.domain.lanes import TIER_PATHS, lane_of
from asyncinfer.domain.model import ServiceTier, Task, TaskError, TaskKind, TaskStatus, now_ms
from asyncinfer.domain.records import BATCH_ENDED, Batch, BatchEndpoint, BatchStatus
from asyncinfer.domain.sealing import open_body
from asyncinfer.domain.submission import Prepared
from asyncinfer.observability import tracing
from asyncinfer.queue.base import BatchJob, MessageQueue, TaskMessage
from asyncinfer.store.base import AlreadyExists, BatchChanged, BatchStore
from asyncinfer.store.schema import BATCH_ESCALATE
from asyncinfer.tasks.batch_escalation import BATCH_ESCALATED
from asyncinfer.tasks.batch_retry import latest_rounds
from asyncinfer.tasks.escalation import escalate
from asyncinfer.tasks.flex_escalation import FLEX, Pace, batch_look, start_path
from asyncinfer.tasks.outcomes import Outcome, fail_unclaimed
from asyncinfer.tasks.provider_parts import PROVIDER_BATCH, parted_lines, plan_batch_parts, start_part
from asyncinfer.tasks.service import TaskService
from asyncinfer.tasks.webhooks import Escalation, Webhooks

SEND_EVERY = 10
log = logging.getLogger(__name__)


def _window_ended(batch: Batch) -> bool:
    """A batch still running whose completion window has ended (a cancelling one is cancelled, not expired)."""
    return batch.status == BatchStatus.IN_PROGRESS and batch.deadline_at is not None and now_ms() >= batch.deadline_at


@dataclass
class Report:
    created: int = 0
    cancelled: int = 0
    expired: int = 0
    skipped: int = 0
    escalated: int = 0  # items moved from flex to on-demand (complete_by)
    failed: list[str] = field(default_factory=list)


class BatchItems:
    """Part of Batches: its task service, store and items queue are the batches'."""

    tasks: TaskService
    store: BatchStore
    items: MessageQueue
    _prepare: Callable[[BatchEndpoint, dict[str, Any]], Prepared]  # BatchInput._prepare: an item as its submit
    local_batch_jobs: bool  # the demo models' provider batch jobs go to the local stand-ins
    pace: Pace  # complete_by's estimates
    announce: Webhooks | None  # where `batch.escalated` is announced
    public_id: Callable[[str], str]  # the batch's id as its webhooks show it

    def run(self, job: BatchJob) -> Report:
        """Bring the batch's items in line with its status: make the missing ones (CREATED and queued, or
        CANCELLED when the batch is being cancelled) and cancel the unfinished ones of a cancelled batch.
        Every item still CREATED is queued (again, after a run that died midway: a duplicate is harmless), so
        a batch item never depends on the sweeper, and the sweeper never re-sends one waiting its turn. With
        `complete_by`, the items no provider batch job takes start in flex; `job.escalate` (the sweeper's, at the
        batch's escalate time) looks at those still waiting there instead."""
        report = Report()
        batch = self.store.get_batch(job.tenant, job.batch_id)
        if batch is None or batch.status in BATCH_ENDED:
            return report
        raw = self.tasks.blobs.get(batch.input_key)
        if raw is None:
            raise RuntimeError(f"batch {batch.id} has lost its input {batch.input_key}")
        lines = [json.loads(line) for line in raw.decode().splitlines() if line.strip()]
        # A retried batch's lines each have their latest round's item (asyncinfer.tasks.batch_retry).
        rounds = latest_rounds(self.tasks.blobs, batch, self.store) if batch.round else {}
        ids = [item_task_id(batch.id, index, rounds.get(index, 0)) for index in range(len(lines))]
        existing = self.store.get_tasks(batch.tenant, ids)
        pending: list[TaskMessage] = []
        if _window_ended(batch):
            return self._expire(batch, lines, ids, existing, report)
        if job.escalate:
            return self._look_at_flex(batch, ids, existing, report)
        parts = self._parts(batch, lines)
        parted = {index for part in parts for index in part.indexes}
        start = self._start_path(batch)
        flex: list[Task] = []
        for index, line in enumerate(lines):
            if index % 100 == 0 and index and batch.status == BatchStatus.IN_PROGRESS:
                batch = self.store.get_batch(batch.tenant, batch.id) or batch  # a cancel stops the fan-out
            task = existing.get(ids[index])
            if task is None:
                path = PROVIDER_BATCH if index in parted else start
                task = self._make_item(batch, index, ids[index], line, report, path)
            waiting = task is not None and task.status == TaskStatus.CREATED and task.path != PROVIDER_BATCH
            if task is not None and waiting and batch.status == BatchStatus.IN_PROGRESS:  # a part's: its job's
                pending.append(TaskMessage(tenant=task.tenant, task_id=task.id, lane=lane_of(task)))
                if task.path == FLEX:
                    flex.append(task)
            if batch.status == BatchStatus.CANCELLING and (task is None or not task.terminal):
                with contextlib.suppress(TaskNotFound):  # deleted by its owner: ended and counted, then
                    self.tasks.cancel(batch.tenant, ids[index])
                report.cancelled += 1
            if len(pending) >= SEND_EVERY:
                self.items.send_many(pending)
                pending = []
        if pending:
            self.items.send_many(pending)
        if flex and batch.complete_by is not None:
            # The sweeper's next look, at the time this batch's own models and size give.
            one = self.pace.item_ms(task.model for task in flex)
            at = escalate_at(
                batch.complete_by, batch.total - batch.ended, one, self.pace.default_slots, self.pace.sweep_ms
            )
            self.tasks.store.add_due(batch.tenant, BATCH_ESCALATE + batch.id, at)
        if batch.status == BatchStatus.IN_PROGRESS and self.tasks.executions is not None:
            for part in parts:  # a run again starts the same executions (by name): no second job
                indexes = list(part.indexes)
                start_part(
                    self.tasks.executions,
                    self.tasks.blobs,
                    batch.tenant,
                    batch.id,
                    part.number,
                    part.model,
                    indexes,
                    complete_by=batch.complete_by,
                )
        return report

    def _start_path(self, batch: Batch) -> str | None:
        """The class a `complete_by` batch's items start in when no part takes them: the cheapest the tenant may use,
        or the default class once the batch escalated. None without complete_by, or in a retry's round (its items
        run on demand in the batch lane)."""
        if batch.complete_by is None or batch.round:
            return None
        if batch.escalated_at is not None:
            return ServiceTier.DEFAULT.value
        return start_path(self.tasks.store, batch.tenant)

    def _look_at_flex(self, batch: Batch, ids: list[str], existing: dict[str, Task], report: Report) -> Report:
        """The sweeper's look at a `complete_by` batch's items waiting in flex: they move to on-demand if flex would
        no longer end what is left in time (reckoned with what is left and the flex lane's recent pace); else the
        next look is set. Items already running stay where they run."""
        if batch.status != BatchStatus.IN_PROGRESS:
            return report
        store, now = self.tasks.store, now_ms()
        waiting = [task for task in existing.values() if task.status == TaskStatus.CREATED and task.path in TIER_PATHS]
        look = batch_look(store, self.pace, batch, waiting, len(existing) < len(ids), now)
        if look is None:
            return report
        if look.tier is None:
            store.add_due(batch.tenant, BATCH_ESCALATE + batch.id, look.next_at or now)
            return report
        if batch.escalated_at is None:
            # Recorded first: a run that dies before its sends finds the batch escalated and sends them again.
            with contextlib.suppress(BatchChanged):  # ended or cancelled meanwhile: nothing to record
                self.store.update_batch(
                    batch.tenant, batch.id, expect={BatchStatus.IN_PROGRESS}, changes={"escalated_at": now}
                )
        leaving = sum(task.path == FLEX for task in waiting)
        if leaving and self.announce is not None and batch.complete_by is not None:
            # Before the move, so a crash cannot lose it; once per batch and source (a fixed delivery id). Items a
            # provider part moved are the part's to announce.
            moved = Escalation(self.public_id(batch.id), FLEX, FLEX, look.tier, leaving, batch.complete_by, now)
            tp = batch.traceparent
            self.announce.announce_escalation(batch.tenant, batch.webhook, BATCH_ESCALATED, batch.id, moved, tp)
        report.escalated = escalate(store, self.items, waiting, look.tier)
        return report

    def _parts(self, batch: Batch, lines: list[dict[str, Any]]) -> list[PartPlan]:
        """The items sent up as provider batch jobs: none while the batch is cancelling, or without the runner, or
        in a retry's round (its parts ran: the items run again on demand)."""
        if batch.status != BatchStatus.IN_PROGRESS or self.tasks.executions is None or batch.round:
            return []
        return plan_batch_parts(self.tasks.registry, batch, lines, self.tasks.sealer, self.local_batch_jobs)

    def _batch_priced(self, endpoint: BatchEndpoint, checked: list[dict[str, Any]], refused: set[int]) -> set[int]:
        """The positions, among a batch's accepted items being submitted, of those its parts will hold (as `run`
        will plan them): they reserve at the model's batch price."""
        if self.tasks.executions is None:
            return set()
        bodies = [line["body"] for line in checked]
        parted = parted_lines(self.tasks.registry, endpoint, bodies, self.local_batch_jobs)
        accepted = [index for index in range(len(checked)) if index not in refused]
        return {n for n, index in enumerate(accepted) if index in parted}

    def _expire(
        self, batch: Batch, lines: list[dict[str, Any]], ids: list[str], existing: dict[str, Task], report: Report
    ) -> Report:
        """Its window ended: every item not ended fails `batch_expired` (fenced by its attempt: a worker running
        it loses it at its next write, as on a cancel), and the missing ones are made so. Safe to run again."""
        for index, line in enumerate(lines):
            task = existing.get(ids[index])
            if task is None:
                self._make_item(batch, index, ids[index], line, report)
            elif not task.terminal:
                outcome = fail_unclaimed(self.tasks.store, task, BATCH_EXPIRED, BATCH_EXPIRED_MESSAGE)
                report.expired += outcome == Outcome.FAILED
        return report

    def _make_item(
        self, batch: Batch, index: int, task_id: str, line: dict[str, Any], report: Report, path: str | None = None
    ) -> Task | None:
        """The item's task, stored; None if another run made it meanwhile (the caller then cancels it if
        it must). A request that no longer passes (the registry changed since the submit) fails alone."""
        fields: dict[str, Any] = {"batch_id": batch.id, "batch_index": index, "custom_id": line["custom_id"]}
        if batch.round and task_id == item_task_id(batch.id, index, batch.round):
            fields["batch_round"] = batch.round
        if batch.max_attempts is not None:
            fields["max_attempts"] = batch.max_attempts
        if path is not None:
            fields["path"] = path
        if path in TIER_PATHS:
            fields["service_tier"] = ServiceTier(path)
        if batch.complete_by is not None:
            fields["complete_by"] = batch.complete_by
        share = line.get("reserved_e8")
        if "batch_round" in fields:
            share = line.get("reserved_on_demand_e8", share)  # a retried item runs on demand (tasks.batch_retry)
        if share and batch.reserved_day:
            # Its share of the batch's reservation: settled when it ends, given back if it is made ended.
            fields.update(reserved_e8=share, reserved_day=batch.reserved_day)
        body = open_body(self.tasks.sealer, line["body"], batch.tenant, batch.id)
        now = now_ms()
        if batch.status == BatchStatus.CANCELLING:
            task = self._bare_task(batch, task_id, body, fields, status=TaskStatus.CANCELLED, cancelled_at=now)
            report.cancelled += 1
        elif _window_ended(batch):
            error = TaskError(code=BATCH_EXPIRED, message=BATCH_EXPIRED_MESSAGE)
            task = self._bare_task(batch, task_id, body, fields, status=TaskStatus.FAILED, failed_at=now, error=error)
            report.expired += 1
        else:
            try:
                task = self.tasks.new_task(batch.tenant, self._prepare(batch.endpoint, body), task_id, **fields)
                if batch.deadline_at is not None:
                    # Its worker stops it at the window's end (and fails it at its claim after it).
                    task.batch_deadline = batch.deadline_at
                    task.finish_by = min(task.finish_by or batch.deadline_at, batch.deadline_at)
            except InvalidRequest as exc:
                error = TaskError(code=exc.code, message=exc.message)
                task = self._bare_task(
                    batch, task_id, body, fields, status=TaskStatus.FAILED, failed_at=now, error=error
                )
                report.failed.append(line["custom_id"])
        # Each item is a trace of its own, linked to its batch's: a batch's trace stays small, whatever its size.
        attributes = {tracing.TASK_ID: task_id, tracing.BATCH_ID: batch.id}
        task.traceparent = tracing.new_traceparent("batch item", attributes=attributes, links=[batch.traceparent])
        try:
            self.tasks.store.create(task)
        except AlreadyExists:
            report.skipped += 1
            return None
        report.created += 1
        return task

    def _bare_task(
        self, batch: Batch, task_id: str, body: dict[str, Any], fields: dict[str, Any], **state: Any
    ) -> Task:
        now = now_ms()
        model = body.get("model") if isinstance(body.get("model"), str) else "unknown"
        kind = TaskKind.IMAGE if batch.endpoint == BatchEndpoint.GENERATION else TaskKind.CHAT
        if batch.endpoint == BatchEndpoint.EMBEDDINGS:
            kind = TaskKind.EMBEDDING
        return Task(
            id=task_id,
            tenant=batch.tenant,
            kind=kind,
            model=str(model)[:256],
            created_at=now,
            updated_at=now,
            expires_at=batch.expires_at,
            **fields,
            **state,
        )
