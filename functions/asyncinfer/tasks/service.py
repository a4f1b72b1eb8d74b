"""Submit, read, list and cancel tasks: the operations every API surface shares. A submit's request is
prepared in asyncinfer.tasks.preparing, and admitted (or replayed) in asyncinfer.tasks.admission."""

from __future__ import annotations

import json
import logging
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

from asyncinfer.blobs.base import BlobStore, request_key
from asyncinfer.domain.catalog import ModelRegistry
from asyncinfer.domain.complete_by import submit_fields
from asyncinfer.domain.errors import ClassNotAllowed, InvalidRequest, NameConflict, ServiceUnavailable, TaskNotFound
from asyncinfer.domain.escalation import hold_tier, start_tier
from asyncinfer.domain.lanes import lane_of
from asyncinfer.domain.model import ServiceTier, Task, TaskKind, TaskStatus, new_task_id, now_ms, sources_of
from asyncinfer.domain.reservations import Hold, release_of, reserved_fields
from asyncinfer.domain.sealing import Sealer, mcp_context, seal_mcp_secrets
from asyncinfer.domain.ssrf import DEFAULT_OUTBOUND, Outbound
from asyncinfer.domain.submission import (
    IDEMPOTENCY,
    MAX_TASK_FIELDS_BYTES,
    MESSAGE_ID,
    Prepared,
    Submission,
    SubmitLimits,
    check_idempotency_key,
)
from asyncinfer.domain.tenants import TenantSettings
from asyncinfer.executions.base import Executions
from asyncinfer.observability import tracing
from asyncinfer.queue.base import MessageQueue, TaskMessage
from asyncinfer.store.base import ConditionFailed, HoldRefused, NameClaim, NameTaken, Page, TaskStore
from asyncinfer.tasks.admission import Admission
from asyncinfer.tasks.budgets import Budgets
from asyncinfer.tasks.preparing import Preparing
from asyncinfer.tasks.reads import TaskRead
from asyncinfer.tasks.standing import lane_standing

log = logging.getLogger(__name__)

MAX_LIST_LIMIT = 100

POLL_MS = 1000
LONG_TASK_POLL_MS = 5000


@dataclass
class TaskService(Admission, Preparing):
    store: TaskStore
    queue: MessageQueue
    blobs: BlobStore
    registry: ModelRegistry
    limits: SubmitLimits
    sealer: Sealer
    outbound: Outbound = DEFAULT_OUTBOUND
    executions: Executions | None = None
    budgets: Budgets | None = None
    # tenant -> (tasks in flight when last counted, when, submits admitted since)
    _inflight_seen: dict[str, tuple[int, float, int]] = field(default_factory=dict, init=False)

    def submit_chat(self, tenant: str, body: dict[str, Any], how: Submission = Submission()) -> Task:
        """Validate, store (CREATED) and enqueue. Either all of it happens or the client gets an error.
        A repeated idempotency key with the same request answers with the task it created."""
        check_idempotency_key(how.idempotency_key)
        prepared = self.prepare_chat(body, how)
        return self._submit(tenant, prepared, how, submit_fields(body, now_ms()))

    def submit_generation(self, tenant: str, body: dict[str, Any], how: Submission = Submission()) -> Task:
        check_idempotency_key(how.idempotency_key)
        prepared = self.prepare_generation(body, how)
        return self._submit(tenant, prepared, how, submit_fields(body, now_ms()))

    def new_task(self, tenant: str, prepared: Prepared, task_id: str | None = None, **fields: Any) -> Task:
        """A CREATED task of a prepared request (not stored yet); its request is kept inline or in S3."""
        now = now_ms()
        given = {**prepared.fields, **fields}
        asked = given.pop("deadlines", None)
        task = Task(
            id=task_id or new_task_id(now),
            tenant=tenant,
            kind=prepared.kind,
            model=prepared.model,
            created_at=now,
            updated_at=now,
            expires_at=now // 1000 + self.limits.retention_days * 86400,
            **given,
            **(asked.fields(now) if asked is not None else {}),
        )
        if task.webhook is not None:
            task.webhook = task.webhook.sealed(self.sealer, tenant)
        # Every field is bounded where it is parsed; this is the backstop, before anything is stored: the
        # record must leave room under DynamoDB's 400 KB item limit for its result and ending.
        fields_bytes = len(task.model_dump_json(exclude={"request"}).encode())
        if fields_bytes > MAX_TASK_FIELDS_BYTES:
            raise InvalidRequest(
                f"The task's own fields (correlation_id, webhook, names) take {fields_bytes} bytes; "
                f"at most {MAX_TASK_FIELDS_BYTES}"
            )
        request = seal_mcp_secrets(self.sealer, prepared.request, mcp_context(tenant, task.batch_id or task.id))
        encoded = json.dumps(request, separators=(",", ":"), ensure_ascii=False).encode()
        if len(encoded) > self.limits.inline_request_bytes:
            task.request_key = request_key(task.tenant, task.id)
            self.blobs.put(task.request_key, encoded, "application/json")
        else:
            task.request = request
        return task

    def _submit(self, tenant: str, prepared: Prepared, how: Submission, chosen: dict[str, Any] | None = None) -> Task:
        """The task of a validated request, unless its idempotency key already made one. With `complete_by`
        (in `chosen`), the service picks its class: the cheapest the tenant may use."""
        fp = prepared.fingerprint
        if how.idempotency_key and (earlier := self._replay(tenant, how.idempotency_key, fp)):
            return earlier
        settings = self.store.get_settings(tenant)
        chosen = dict(chosen or {})
        if chosen.get("complete_by") is not None:
            tier = ServiceTier(start_tier(may_use(settings, ServiceTier.FLEX)))
            chosen.update(service_tier=tier, path=tier.value)
        else:
            tier = prepared.fields.get("service_tier", ServiceTier.DEFAULT)
            settings.check_class(tier)
            if (quota := settings.waiting.get(tier)) is not None:
                settings.check_waiting(tier, self.store.count_waiting(tenant, tier.value, quota))
        # A complete_by task may escalate on demand: it holds at the dearest class it may end in.
        dearest = None
        if chosen.get("complete_by") is not None:
            dearest = ServiceTier(hold_tier(may_use(settings, ServiceTier.PRIORITY)))
        budgets = self.budgets
        hold = budgets.hold(tenant, [prepared], settings.budget, tier=dearest) if budgets is not None else None
        self._check_inflight(tenant)
        self._check_rate(tenant)
        # The current span is the submit request's: the task's trace, which its every later hop joins.
        task = self.new_task(tenant, prepared, **reserved_fields(hold), **chosen, traceparent=tracing.traceparent())
        names = []
        if how.idempotency_key:
            names.append(NameClaim(IDEMPOTENCY, how.idempotency_key, fp))
        if how.message_id:
            names.append(NameClaim(MESSAGE_ID, how.message_id, fp))
        return self._create_and_enqueue(task, names, hold)

    def _create_and_enqueue(self, task: Task, names: list[NameClaim], hold: Hold | None = None) -> Task:
        try:
            self.store.create(task, names, hold)
        except HoldRefused as refused:
            assert self.budgets is not None and hold is not None
            raise self.budgets.refused(hold, refused) from None
        except NameTaken as taken:
            if taken.claim.namespace == IDEMPOTENCY:
                # Another submit with this key won the race; answer as it would have.
                earlier = self._replay(task.tenant, taken.claim.value, taken.claim.fingerprint)
                if earlier is not None:
                    return earlier
                raise ServiceUnavailable("A submit with this idempotency key was just withdrawn; retry") from None
            raise NameConflict(f"message_id {taken.claim.value!r} is already in use") from None
        try:
            self.queue.send(TaskMessage(tenant=task.tenant, task_id=task.id, lane=lane_of(task)))
        except Exception as exc:
            # Without a queue message nothing would ever run it: withdraw the task and let the client retry.
            log.exception("enqueue failed; withdrawing task %s", task.id)
            self.store.delete_if(
                task.tenant, task.id, expect={TaskStatus.CREATED}, names=names, release=release_of(task)
            )
            raise ServiceUnavailable("The task queue is unavailable; nothing was created, retry later") from exc
        return task

    def named(self, tenant: str, name: str) -> str | None:
        return message_task(self.store, tenant, name)

    def get(
        self, tenant: str, task_id: str, kinds: Collection[TaskKind] | None = None, *, deleted: bool = False
    ) -> Task:
        """A task of this tenant (and of one of `kinds`: a surface sees only what it can show); a deleted
        one only when asked for (NetMind shows soft-deleted generations as such)."""
        task = self.store.get(tenant, task_id)
        if task is None or task.expired() or (task.deleted_at is not None and not deleted):
            raise TaskNotFound()
        if kinds is not None and task.kind not in kinds:
            raise TaskNotFound()
        return task

    def list(
        self,
        tenant: str,
        *,
        limit: int,
        after: str | None,
        status: TaskStatus | None,
        kinds: Collection[TaskKind] | None = None,
    ) -> Page:
        if not 1 <= limit <= MAX_LIST_LIMIT:
            raise InvalidRequest(f"limit must be between 1 and {MAX_LIST_LIMIT}")
        return self.store.list(tenant, limit=limit, after=after, status=status, kinds=kinds)

    def cancel(self, tenant: str, task_id: str) -> Task:
        """CREATED or IN_PROGRESS -> CANCELLED. A task that already ended is returned unchanged."""
        now = now_ms()
        try:
            task = self.store.transition(
                tenant,
                task_id,
                expect=sources_of(TaskStatus.CANCELLED),
                changes={"status": TaskStatus.CANCELLED, "cancelled_at": now, "updated_at": now},
                remove=["lease_expires_at"],
            )
        except ConditionFailed as lost:
            task = lost.current
        else:
            self._stop_execution(task)
        if task is None or not task.visible():
            raise TaskNotFound()
        return task

    def _stop_execution(self, task: Task) -> None:
        """A long chat task's execution stops too: a runner pausing between steps would otherwise notice only at its
        next step. Best effort: the runner's next write fails on its own. The execution of a task that runs as a job
        upstream is left to its next poll (at most the poll interval away), which cancels the job upstream and ends."""
        spec = self.registry.models.get(task.model)
        if spec is not None and self.registry.upstream_job(spec):
            return
        if task.execution_arn and self.executions is not None:
            try:
                self.executions.stop(task.execution_arn)
            except Exception:
                log.warning("could not stop the execution of cancelled task %s", task.id, exc_info=True)

    def delete(self, tenant: str, task_id: str) -> Task:
        """Soft delete: cancel if still running, hide from every surface, purge its stored objects and its
        event log (the whole output, the echoed prompt, tool results)."""
        task = self.get(tenant, task_id)
        if not task.terminal:
            task = self.cancel(tenant, task_id)
        try:
            deleted = self.store.mark_deleted(tenant, task_id, at=now_ms())
        except ConditionFailed:
            raise TaskNotFound() from None
        self.store.delete_events(tenant, task_id)
        keys = [key for key in (task.request_key, task.result_key) if key] + [o.key for o in task.outputs]
        if keys:
            try:
                self.blobs.delete(keys)
            except Exception:
                # The record no longer points at them and the bucket's lifecycle expires them anyway.
                log.exception("could not purge objects of deleted task %s", task_id)
        return deleted

    def poll_after_ms(self, task: Task) -> int | None:
        """How long a client should wait before reading a task again; None once it has ended. A long task
        changes more slowly than a worker's, so it is read less often."""
        if task.terminal:
            return None
        spec = self.registry.models.get(task.model)
        on_runner = spec is not None and spec.runs == "durable" and (self.limits.long_tasks or task.execution_arn)
        return LONG_TASK_POLL_MS if on_runner else POLL_MS

    def download_url(self, key: str) -> str:
        """Minted on every read: a URL signed with a function's temporary credentials dies with them."""
        return self.blobs.presigned_url(key, self.limits.download_url_seconds)

    def result(self, task: Task) -> dict[str, Any] | None:
        return read_result(self.blobs, task)

    def read(
        self, tenant: str, task_id: str, kinds: Collection[TaskKind] | None = None, *, deleted: bool = False
    ) -> TaskRead:
        """What a surface shows of a task of this tenant (see get)."""
        return self.view(self.get(tenant, task_id, kinds, deleted=deleted))

    def view(self, task: Task) -> TaskRead:
        """What a surface shows of `task`: its result, its standing while it waits (its place in its lane and
        when it should start), the poll hint, its outputs' download URLs."""
        return TaskRead(task, self.poll_after_ms(task), self.download_url, self.result, lane_standing(self.store))


def may_use(settings: TenantSettings, tier: ServiceTier) -> bool:
    try:
        settings.check_class(tier)
    except ClassNotAllowed:
        return False
    return True


def read_result(blobs: BlobStore, task: Task) -> dict[str, Any] | None:
    """A completed task's result: inline, or from the bucket when it was large."""
    if task.result is not None:
        return task.result
    if task.result_key:
        body = blobs.get(task.result_key)
        return json.loads(body) if body else None
    return None


def message_task(store: TaskStore, tenant: str, name: str) -> str | None:
    """The id of the task created under a client-chosen message_id (PrivateGPT's), if any."""
    record = store.get_name(tenant, MESSAGE_ID, name)
    return record.task_id if record is not None else None
