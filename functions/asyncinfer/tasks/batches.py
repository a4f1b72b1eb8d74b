"""Batches: many requests submitted as one, one task per item, results as one JSONL in S3.

A batch's items get deterministic task ids (the batch id's time, randomness from the batch id and the
item's line), so making them is idempotent: the batch function may run again after any crash and
only makes what is missing. The table stream counts each ending item once; the last one writes the
results and announces the batch's end (asyncinfer.tasks.batch_tracker).

Batches is made of parts: its input is read and checked in asyncinfer.tasks.batch_input, its items made by
the batch function in asyncinfer.tasks.batch_items.
"""

from __future__ import annotations

import json
import logging
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from asyncinfer.blobs.base import batch_file_key, input_key, round_key
from asyncinfer.domain.batches import (
    ANTHROPIC_RESULTS,
    BatchEnded,
    BatchNotEnded,
    BatchNotFound,
    BatchRequest,
    ScheduledInvocation,
    window_ms,
)
from asyncinfer.domain.complete_by import batch_complete_by, check_lines
from asyncinfer.domain.errors import IdempotencyConflict, InvalidRequest, ServiceUnavailable
from asyncinfer.domain.escalation import hold_tier
from asyncinfer.domain.model import ServiceTier, new_task_id, now_ms
from asyncinfer.domain.records import BATCH_ENDED, BATCH_EVENTS, Batch, BatchEndpoint, BatchStatus
from asyncinfer.domain.requests import parse_webhook, validation_message
from asyncinfer.domain.reservations import reserved_fields
from asyncinfer.domain.sealing import seal_body
from asyncinfer.domain.submission import Prepared, Submission, check_idempotency_key, fingerprint
from asyncinfer.observability import tracing
from asyncinfer.queue.base import BatchJob, MessageQueue
from asyncinfer.store.base import BatchChanged, HoldRefused, NameClaim, NameTaken
from asyncinfer.store.batch_ends import BatchEndStore
from asyncinfer.tasks.batch_input import BatchInput, BatchLimits, Reader
from asyncinfer.tasks.batch_items import BatchItems
from asyncinfer.tasks.batch_retry import BatchRetry
from asyncinfer.tasks.files import Files
from asyncinfer.tasks.flex_escalation import Pace
from asyncinfer.tasks.service import TaskService, may_use
from asyncinfer.tasks.webhooks import Webhooks

log = logging.getLogger(__name__)

BATCH_IDEMPOTENCY = "bidem"


@dataclass
class Batches(BatchInput, BatchItems, BatchRetry):
    """Submit, read, list and cancel batches (the API and the batch function)."""

    tasks: TaskService
    store: BatchEndStore
    jobs: MessageQueue
    items: MessageQueue
    read_input: Reader
    limits: BatchLimits
    files: Files | None = None
    local_batch_jobs: bool = False
    pace: Pace = field(default_factory=Pace)  # complete_by's estimates (asyncinfer.tasks.flex_escalation)
    # Where `batch.escalated` is announced (None: logged only), and the batch's id as its webhooks show it.
    announce: Webhooks | None = None
    public_id: Callable[[str], str] = str

    def create(
        self, tenant: str, body: dict[str, Any], how: Submission | None = None, schedule: str | None = None
    ) -> Batch:
        how = how or Submission(surface="batch")
        check_idempotency_key(how.idempotency_key)
        received = now_ms()
        try:
            request = BatchRequest.model_validate(body)
        except ValidationError as exc:
            raise InvalidRequest(validation_message(exc)) from None
        webhook = parse_webhook(request.webhook, BATCH_EVENTS, self.tasks.outbound)
        fp = fingerprint("batch", body)
        if how.idempotency_key and (earlier := self._replay(tenant, how.idempotency_key, fp)):
            return earlier
        complete_by = batch_complete_by(request.complete_by, received, request.completion_window)
        items = request.requests if request.requests is not None else self._load(tenant, self._source(tenant, request))
        check_lines((item.get("body") if isinstance(item, dict) else None for item in items), complete_by)
        now = now_ms()
        batch_id = new_task_id(now)
        sealer = self.tasks.sealer
        prepared: list[Prepared] = []
        checked = self._validate(tenant, request.endpoint, items, prepared)
        # Items refused by their own checks (Anthropic's) are made failed by the batch function and reserve nothing.
        refused = {index for index, line in enumerate(checked) if line.pop("refused", False)}
        lines = [{**line, "body": seal_body(sealer, line["body"], tenant, batch_id)} for line in checked]
        settings = self.tasks.store.get_settings(tenant)
        for ready in prepared:
            settings.check_class(ready.fields.get("service_tier", ServiceTier.DEFAULT))
        budgets = self.tasks.budgets
        # Its items, once made, all run: the batch reserves for all of them at once, each item its share. With
        # complete_by any item may escalate on demand: each reserves at the dearest class it may end in.
        batch_priced = self._batch_priced(request.endpoint, checked, refused) if complete_by is None else set()
        dearest = ServiceTier(hold_tier(may_use(settings, ServiceTier.PRIORITY))) if complete_by is not None else None
        hold = budgets.hold(tenant, prepared, settings.budget, batch_priced, dearest) if budgets is not None else None
        if hold is not None and budgets is not None:
            reserving = (line for index, line in enumerate(lines) if index not in refused)
            for n, (line, ready) in enumerate(zip(reserving, prepared, strict=True)):
                if share := budgets.reservation_e8(ready, n in batch_priced, dearest):
                    line["reserved_e8"] = share
                if n in batch_priced:
                    # What it reserves if it runs again on demand (a retry round is never sent up in a batch job).
                    line["reserved_on_demand_e8"] = budgets.reservation_e8(ready)
        batch = Batch(
            id=batch_id,
            tenant=tenant,
            endpoint=request.endpoint,
            total=len(lines),
            created_at=now,
            updated_at=now,
            input_key=input_key(tenant, batch_id),
            webhook=webhook.sealed(sealer, tenant) if webhook else None,
            metadata=request.metadata,
            input_file_id=request.input_file_id,
            completion_window=request.completion_window,
            deadline_at=now + window_ms(request.completion_window) if request.completion_window else None,
            schedule=schedule,
            max_attempts=request.retry.max_attempts if request.retry is not None else None,
            complete_by=complete_by,
            expires_at=now // 1000 + self.limits.retention_days * 86400,
            traceparent=tracing.traceparent(),  # its create request's span: each item's trace links to it
            **reserved_fields(hold),
        )
        encoded = "".join(json.dumps(line, separators=(",", ":"), ensure_ascii=False) + "\n" for line in lines)
        self.tasks.blobs.put(batch.input_key, encoded.encode(), "application/x-ndjson")
        claim = NameClaim(BATCH_IDEMPOTENCY, how.idempotency_key, fp) if how.idempotency_key else None
        try:
            self.store.create_batch(batch, claim, hold)
        except HoldRefused as refused:
            assert budgets is not None and hold is not None
            raise budgets.refused(hold, refused) from None
        except NameTaken:
            earlier = self._replay(tenant, how.idempotency_key or "", fp)
            if earlier is not None:
                return earlier
            raise ServiceUnavailable("A batch with this idempotency key was just withdrawn; retry") from None
        try:
            self.jobs.send(BatchJob(tenant=tenant, batch_id=batch.id))
        except Exception as exc:
            log.exception("could not queue batch %s; withdrawing it", batch.id)
            self.store.withdraw_batch(batch, claim)
            raise ServiceUnavailable("The batch queue is unavailable; nothing was created, retry later") from exc
        return batch

    def submit_scheduled(self, invocation: ScheduledInvocation) -> Batch:
        """A schedule's batch, submitted once per scheduled time (Scheduler delivers at least once, so the
        time is the batch's idempotency key)."""
        how = Submission(surface="schedule", idempotency_key=invocation.idempotency_key())
        return self.create(invocation.tenant, invocation.batch, how, schedule=invocation.schedule)

    def _replay(self, tenant: str, key: str, fp: str) -> Batch | None:
        record = self.tasks.store.get_name(tenant, BATCH_IDEMPOTENCY, key)
        if record is None:
            return None
        if record.fingerprint != fp:
            raise IdempotencyConflict("This idempotency key was already used with a different batch")
        return self.store.get_batch(tenant, record.task_id)

    def get(self, tenant: str, batch_id: str) -> Batch:
        batch = self.store.get_batch(tenant, batch_id)
        if batch is None or (batch.expires_at is not None and batch.expires_at * 1000 <= now_ms()):
            raise BatchNotFound()
        return batch

    def results_url(self, batch: Batch) -> str | None:
        if not batch.results_key:
            return None
        return self.tasks.blobs.presigned_url(batch.results_key, self.limits.download_url_seconds)

    def list(self, tenant: str, *, limit: int, after: str | None) -> tuple[list[Batch], str | None]:
        if not 1 <= limit <= 100:
            raise InvalidRequest("limit must be between 1 and 100")
        return self.store.list_batches(tenant, limit=limit, after=after)

    def cancel(self, tenant: str, batch_id: str) -> Batch:
        """in_progress -> cancelling; the batch function then cancels every item not yet ended."""
        self.get(tenant, batch_id)
        try:
            batch = self.store.update_batch(
                tenant,
                batch_id,
                expect={BatchStatus.IN_PROGRESS},
                changes={"status": BatchStatus.CANCELLING, "cancelled_at": now_ms(), "updated_at": now_ms()},
            )
        except BatchChanged as changed:
            if changed.current is None:
                raise BatchNotFound() from None
            if changed.current.status in BATCH_ENDED:
                raise BatchEnded(f"The batch already ended ({changed.current.status.value})") from None
            return changed.current  # already cancelling
        self.jobs.send(BatchJob(tenant=tenant, batch_id=batch_id))
        return batch

    def anthropic_results_url(self, batch: Batch) -> str | None:
        """A Message Batch's results (Anthropic's lines), once it ended: a fresh presigned URL."""
        if batch.endpoint != BatchEndpoint.MESSAGES or batch.status not in BATCH_ENDED:
            return None
        key = batch_file_key(batch.tenant, batch.id, ANTHROPIC_RESULTS)
        return self.tasks.blobs.presigned_url(key, self.limits.download_url_seconds)

    def _walk(self, tenant: str, after: str | None, endpoint: BatchEndpoint) -> Iterator[Batch]:
        while True:
            page, after = self.store.list_batches(tenant, limit=100, after=after)
            yield from (batch for batch in page if batch.endpoint == endpoint)
            if after is None:
                return

    def page(
        self, tenant: str, endpoint: BatchEndpoint, *, limit: int, after: str | None = None, before: str | None = None
    ) -> tuple[list[Batch], bool]:
        """The batches of one endpoint, newest first: the `limit` just older than `after`, or just newer than
        `before`; and whether there are more that way. The store lists only towards older batches, so a page
        `before` one is the tail of a walk from the newest."""
        if not 1 <= limit <= 1000:
            raise InvalidRequest("limit must be between 1 and 1000")
        if before is None:
            found: list[Batch] = []
            for batch in self._walk(tenant, after, endpoint):
                if len(found) == limit:
                    return found, True
                found.append(batch)
            return found, False
        newer: deque[Batch] = deque(maxlen=limit + 1)
        for batch in self._walk(tenant, None, endpoint):
            if batch.id <= before:  # ids are time-ordered, as the store sorts them
                break
            newer.append(batch)
        return list(newer)[-limit:], len(newer) > limit

    def delete(self, tenant: str, batch_id: str, endpoint: BatchEndpoint | None = None) -> None:
        """An ended batch's record and files go (a running one: BatchNotEnded; cancel it first). Its items' tasks
        stay readable by their ids until they expire with the batch's retention, as they would have."""
        batch = self.get(tenant, batch_id)
        if endpoint is not None and batch.endpoint != endpoint:
            raise BatchNotFound()
        if batch.status not in BATCH_ENDED:
            raise BatchNotEnded(f"The batch is still {batch.status.value}; cancel it and delete it once it ended")
        # Its items settled their own shares of its reservation: nothing of it is given back.
        self.store.withdraw_batch(batch.model_copy(update={"reserved_e8": None}))
        self.store.delete_batch_ends(tenant, batch.id)
        files = [batch.input_key, batch.results_key, batch.output_key, batch.errors_key]
        files.append(batch_file_key(tenant, batch.id, ANTHROPIC_RESULTS))
        files.extend(round_key(tenant, batch.id, round) for round in range(1, batch.round + 1))
        if batch.round and not batch.errors_key:  # an error file of an earlier round the last did not need
            files.append(batch_file_key(tenant, batch.id, "errors"))
        self.tasks.blobs.delete([key for key in files if key])
