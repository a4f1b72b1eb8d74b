"""Submit, read, list and cancel tasks: the operations every API surface shares."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

from asyncinfer.blobs.base import BlobStore, request_key
from asyncinfer.providers.registry import ModelRegistry
from asyncinfer.queue.base import TaskMessage, TaskQueue
from asyncinfer.store.base import ConditionFailed, Page, TaskStore
from asyncinfer.tasks.errors import InvalidRequest, ServiceUnavailable, TaskNotFound
from asyncinfer.tasks.model import Task, TaskKind, TaskStatus, new_task_id, now_ms, sources_of
from asyncinfer.tasks.requests import parse_chat_request

log = logging.getLogger(__name__)

MAX_LIST_LIMIT = 100


@dataclass(frozen=True)
class SubmitLimits:
    max_request_bytes: int
    inline_request_bytes: int
    retention_days: int


class TaskService:
    def __init__(
        self,
        store: TaskStore,
        queue: TaskQueue,
        blobs: BlobStore,
        registry: ModelRegistry,
        limits: SubmitLimits,
    ) -> None:
        self.store = store
        self.queue = queue
        self.blobs = blobs
        self.registry = registry
        self.limits = limits

    def submit_chat(self, tenant: str, body: dict[str, Any]) -> Task:
        """Validate, store (CREATED) and enqueue. Either all of it happens or the client gets an error."""
        request = parse_chat_request(body)
        spec = self.registry.resolve(request.model, TaskKind.CHAT)
        if request.max_tokens is not None and request.max_tokens > spec.max_output_tokens:
            raise InvalidRequest(f"max_tokens {request.max_tokens} exceeds {spec.max_output_tokens}, the model's limit")
        now = now_ms()
        task = Task(
            id=new_task_id(now),
            tenant=tenant,
            kind=TaskKind.CHAT,
            model=request.model,
            created_at=now,
            updated_at=now,
            expires_at=now // 1000 + self.limits.retention_days * 86400,
            correlation_id=body.get("correlation_id") if isinstance(body.get("correlation_id"), str) else None,
        )
        normalized = request.model_dump(mode="json", exclude_none=True)
        encoded = json.dumps(normalized, separators=(",", ":"), ensure_ascii=False).encode()
        if len(encoded) > self.limits.inline_request_bytes:
            task.request_key = request_key(tenant, task.id)
            self.blobs.put(task.request_key, encoded, "application/json")
        else:
            task.request = normalized
        self.store.create(task)
        try:
            self.queue.send(TaskMessage(tenant=tenant, task_id=task.id))
        except Exception as exc:
            # Without a queue message nothing would ever run it: withdraw the task and let the client retry.
            log.exception("enqueue failed; withdrawing task %s", task.id)
            self.store.delete_if(tenant, task.id, expect={TaskStatus.CREATED})
            raise ServiceUnavailable("The task queue is unavailable; nothing was created, retry later") from exc
        return task

    def get(self, tenant: str, task_id: str) -> Task:
        task = self.store.get(tenant, task_id)
        if task is None:
            raise TaskNotFound()
        return task

    def list(self, tenant: str, *, limit: int, after: str | None, status: TaskStatus | None) -> Page:
        if not 1 <= limit <= MAX_LIST_LIMIT:
            raise InvalidRequest(f"limit must be between 1 and {MAX_LIST_LIMIT}")
        return self.store.list(tenant, limit=limit, after=after, status=status)

    def cancel(self, tenant: str, task_id: str) -> Task:
        """CREATED or IN_PROGRESS -> CANCELLED. A task that already ended is returned unchanged."""
        now = now_ms()
        try:
            return self.store.transition(
                tenant,
                task_id,
                expect=sources_of(TaskStatus.CANCELLED),
                changes={"status": TaskStatus.CANCELLED, "cancelled_at": now, "updated_at": now},
                remove=["lease_expires_at"],
            )
        except ConditionFailed as lost:
            if lost.current is None:
                raise TaskNotFound() from None
            return lost.current

    def result(self, task: Task) -> dict[str, Any] | None:
        if task.result is not None:
            return task.result
        if task.result_key:
            body = self.blobs.get(task.result_key)
            return json.loads(body) if body else None
        return None
