"""Batches: many requests submitted as one, one task per item, results as one JSONL in S3.

A batch's items get deterministic task ids (the batch id's time, randomness from the batch id and the
item's line), so making them is idempotent: the batch function may run again after any crash and
only makes what is missing. The table stream counts each ending item once; the last one writes the
results and announces the batch's end (asyncinfer.tasks.batch_tracker).
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from asyncinfer.blobs.base import input_key, upload_key
from asyncinfer.domain.batches import (
    BatchEnded,
    BatchNotFound,
    BatchRequest,
    DuplicateCustomId,
    InvalidBatch,
    Item,
    ScheduledInvocation,
    item_task_id,
)
from asyncinfer.domain.errors import IdempotencyConflict, InvalidRequest, ServiceUnavailable, TaskNotFound
from asyncinfer.domain.model import ServiceTier, Task, TaskError, TaskKind, TaskStatus, new_task_id, now_ms
from asyncinfer.domain.records import BATCH_ENDED, BATCH_EVENTS, Batch, BatchEndpoint, BatchStatus
from asyncinfer.domain.requests import loads_client_json, parse_webhook, validation_message
from asyncinfer.domain.reservations import reserved_fields
from asyncinfer.domain.scheduling import BATCH_LANE
from asyncinfer.domain.sealing import open_body, seal_body
from asyncinfer.queue.base import BatchJob, MessageQueue, TaskMessage
from asyncinfer.store.base import AlreadyExists, BatchChanged, BatchStore, HoldRefused, NameClaim, NameTaken
from asyncinfer.tasks.files import Files
from asyncinfer.tasks.service import TaskService
from asyncinfer.tasks.submission import Prepared, Submission, check_idempotency_key, fingerprint

log = logging.getLogger(__name__)

BATCH_IDEMPOTENCY = "bidem"
MAX_PROBLEMS = 10
SEND_EVERY = 10


@dataclass(frozen=True)
class BatchLimits:
    max_items: int = 10_000
    max_input_bytes: int = 100 * 1024 * 1024
    retention_days: int = 30
    download_url_seconds: int = 3600
    # Buckets, besides the deployment's own uploads/<tenant>/, that input files may be read from.
    input_buckets: tuple[str, ...] = ()
    own_bucket: str = ""


Reader = Callable[[str, str, int], bytes]  # bucket, key, max bytes -> the object's bytes


@dataclass
class Report:
    created: int = 0
    cancelled: int = 0
    skipped: int = 0
    failed: list[str] = field(default_factory=list)


class Batches:
    """Submit, read, list and cancel batches (the API and the batch function)."""

    def __init__(
        self,
        tasks: TaskService,
        store: BatchStore,
        jobs: MessageQueue,
        items: MessageQueue,
        read_input: Reader,
        limits: BatchLimits,
        files: Files | None = None,
    ) -> None:
        self.files = files
        self.tasks = tasks
        self.store = store
        self.jobs = jobs
        self.items = items
        self.read_input = read_input
        self.limits = limits

    # -- submit ------------------------------------------------------------------------------------

    def create(
        self, tenant: str, body: dict[str, Any], how: Submission | None = None, schedule: str | None = None
    ) -> Batch:
        how = how or Submission(surface="batch")
        check_idempotency_key(how.idempotency_key)
        try:
            request = BatchRequest.model_validate(body)
        except ValidationError as exc:
            raise InvalidRequest(validation_message(exc)) from None
        webhook = parse_webhook(request.webhook, BATCH_EVENTS, self.tasks.outbound)
        fp = fingerprint("batch", body)
        if how.idempotency_key and (earlier := self._replay(tenant, how.idempotency_key, fp)):
            return earlier
        items = request.requests if request.requests is not None else self._load(tenant, self._source(tenant, request))
        now = now_ms()
        batch_id = new_task_id(now)
        sealer = self.tasks.sealer
        prepared: list[Prepared] = []
        lines = [
            {**line, "body": seal_body(sealer, line["body"], tenant, batch_id)}
            for line in self._validate(tenant, request.endpoint, items, prepared)
        ]
        settings = self.tasks.store.get_settings(tenant)
        for ready in prepared:
            settings.check_class(ready.fields.get("service_tier", ServiceTier.DEFAULT))
        budgets = self.tasks.budgets
        # Its items, once made, all run: the batch reserves for all of them at once, each item its share.
        hold = budgets.hold(tenant, prepared, settings.budget) if budgets is not None else None
        if hold is not None and budgets is not None:
            for line, ready in zip(lines, prepared, strict=True):
                if share := budgets.reservation_e8(ready):
                    line["reserved_e8"] = share
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
            schedule=schedule,
            expires_at=now // 1000 + self.limits.retention_days * 86400,
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

    def _source(self, tenant: str, request: BatchRequest) -> str:
        if request.input_file_id is None:
            return request.input_file or ""
        if self.files is None:
            raise InvalidBatch("input_file_id is not served by this function")
        return f"s3://{self.limits.own_bucket}/{self.files.input_key(tenant, request.input_file_id)}"

    def _load(self, tenant: str, url: str) -> list[Any]:
        bucket, _, key = url.removeprefix("s3://").partition("/")
        own = bucket == self.limits.own_bucket and key.startswith(upload_key(tenant, "")[: -len(".jsonl")])
        if not own and bucket not in self.limits.input_buckets:
            raise InvalidBatch(
                f"input_file must be an upload of yours (POST /v1/batches/uploads) or in a bucket the deployment "
                f"allows; {bucket!r} is not"
            )
        try:
            raw = self.read_input(bucket, key, self.limits.max_input_bytes)
        except FileNotFoundError:
            raise InvalidBatch(f"input_file {url} does not exist") from None
        if len(raw) > self.limits.max_input_bytes:
            raise InvalidBatch(f"input_file is larger than {self.limits.max_input_bytes} bytes")
        items: list[Any] = []
        for number, line in enumerate(raw.decode("utf-8", errors="replace").splitlines(), start=1):
            if not line.strip():
                continue
            try:
                items.append(loads_client_json(line))
            except json.JSONDecodeError as exc:
                raise InvalidBatch(f"input_file line {number} is not JSON: {exc.msg}") from None
            except ValueError as exc:
                raise InvalidBatch(f"input_file line {number} is not JSON: {exc}") from None
        return items

    def _validate(
        self, tenant: str, endpoint: BatchEndpoint, items: list[Any], prepared: list[Prepared] | None = None
    ) -> list[dict[str, Any]]:
        """Every item, checked as its own submit would be; all problems (up to ten) in one answer. Each item
        as it was prepared goes to `prepared`, when given."""
        if not items:
            raise InvalidBatch("The batch has no requests")
        if len(items) > self.limits.max_items:
            raise InvalidBatch(f"The batch has {len(items)} requests; the limit is {self.limits.max_items}")
        seen: dict[str, int] = {}
        problems: list[str] = []
        lines: list[dict[str, Any]] = []
        for number, raw in enumerate(items, start=1):
            try:
                item = Item.model_validate(raw)
            except ValidationError as exc:
                problems.append(f"request {number}: {validation_message(exc)}")
                continue
            if item.custom_id in seen:
                raise DuplicateCustomId(
                    f"custom_id {item.custom_id!r} appears in requests {seen[item.custom_id]} and {number}; "
                    "each must be unique within the batch"
                )
            seen[item.custom_id] = number
            url = (item.model_extra or {}).get("url")
            if endpoint == BatchEndpoint.CHAT_COMPLETIONS and url is not None and url != endpoint.value:
                problems.append(f"request {number} ({item.custom_id}): url {url!r} is not the batch's endpoint")
                continue
            try:
                ready = self._prepare(endpoint, item.body)
                if prepared is not None:
                    prepared.append(ready)
            except InvalidRequest as exc:
                problems.append(f"request {number} ({item.custom_id}): {exc.message}")
            lines.append({"custom_id": item.custom_id, "body": item.body})
        if problems:
            more = f" (and {len(problems) - MAX_PROBLEMS} more)" if len(problems) > MAX_PROBLEMS else ""
            raise InvalidBatch("; ".join(problems[:MAX_PROBLEMS]) + more)
        return lines

    def _prepare(self, endpoint: BatchEndpoint, body: dict[str, Any]) -> Prepared:
        how = Submission(surface="batch")
        if endpoint == BatchEndpoint.GENERATION:
            return self.tasks.prepare_generation(body, how)
        return self.tasks.prepare_chat(body, how)

    # -- read, list, cancel ------------------------------------------------------------------------

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

    # -- the batch function ------------------------------------------------------------------------

    def run(self, job: BatchJob) -> Report:
        """Bring the batch's items in line with its status: make the missing ones (CREATED and queued, or
        CANCELLED when the batch is being cancelled) and cancel the unfinished ones of a cancelled batch.
        Every item still CREATED is queued (again, after a run that died midway: a duplicate is harmless), so
        a batch item never depends on the sweeper, and the sweeper never re-sends one waiting its turn."""
        report = Report()
        batch = self.store.get_batch(job.tenant, job.batch_id)
        if batch is None or batch.status in BATCH_ENDED:
            return report
        raw = self.tasks.blobs.get(batch.input_key)
        if raw is None:
            raise RuntimeError(f"batch {batch.id} has lost its input {batch.input_key}")
        lines = [json.loads(line) for line in raw.decode().splitlines() if line.strip()]
        ids = [item_task_id(batch.id, index) for index in range(len(lines))]
        existing = self.store.get_tasks(batch.tenant, ids)
        pending: list[TaskMessage] = []
        for index, line in enumerate(lines):
            if index % 100 == 0 and index and batch.status == BatchStatus.IN_PROGRESS:
                batch = self.store.get_batch(batch.tenant, batch.id) or batch  # a cancel stops the fan-out
            task = existing.get(ids[index])
            if task is None:
                task = self._make_item(batch, index, ids[index], line, report)
            if task is not None and task.status == TaskStatus.CREATED and batch.status == BatchStatus.IN_PROGRESS:
                pending.append(TaskMessage(tenant=task.tenant, task_id=task.id, lane=BATCH_LANE))
            if batch.status == BatchStatus.CANCELLING and (task is None or not task.terminal):
                with contextlib.suppress(TaskNotFound):  # deleted by its owner: ended and counted, then
                    self.tasks.cancel(batch.tenant, ids[index])
                report.cancelled += 1
            if len(pending) >= SEND_EVERY:
                self.items.send_many(pending)
                pending = []
        if pending:
            self.items.send_many(pending)
        return report

    def _make_item(self, batch: Batch, index: int, task_id: str, line: dict[str, Any], report: Report) -> Task | None:
        """The item's task, stored; None if another run made it meanwhile (the caller then cancels it if
        it must). A request that no longer passes (the registry changed since the submit) fails alone."""
        fields: dict[str, Any] = {"batch_id": batch.id, "batch_index": index, "custom_id": line["custom_id"]}
        if line.get("reserved_e8") and batch.reserved_day:
            # Its share of the batch's reservation: settled when it ends, given back if it is made ended.
            fields.update(reserved_e8=line["reserved_e8"], reserved_day=batch.reserved_day)
        body = open_body(self.tasks.sealer, line["body"], batch.tenant, batch.id)
        now = now_ms()
        if batch.status == BatchStatus.CANCELLING:
            task = self._bare_task(batch, task_id, body, fields, status=TaskStatus.CANCELLED, cancelled_at=now)
            report.cancelled += 1
        else:
            try:
                task = self.tasks.new_task(batch.tenant, self._prepare(batch.endpoint, body), task_id, **fields)
            except InvalidRequest as exc:
                error = TaskError(code=exc.code, message=exc.message)
                task = self._bare_task(
                    batch, task_id, body, fields, status=TaskStatus.FAILED, failed_at=now, error=error
                )
                report.failed.append(line["custom_id"])
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
