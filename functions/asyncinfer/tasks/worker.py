"""The worker protocol (docs/architecture.md): claim with a lease, stream in batches, complete by compare-and-set."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
from collections.abc import Callable
from dataclasses import KW_ONLY, dataclass
from functools import partial
from typing import Any

from pydantic import ValidationError

from asyncinfer.blobs.base import BlobStore, result_key
from asyncinfer.domain.catalog import ModelRegistry, ModelSpec
from asyncinfer.domain.deadlines import missed
from asyncinfer.domain.item_costs import on_demand_cost
from asyncinfer.domain.lanes import lane_of
from asyncinfer.domain.model import MEDIA_KINDS, Output, Progress, Task, TaskKind, TaskStatus, Usage, now_ms, sources_of
from asyncinfer.domain.requests import ChatRequest, McpServer, validation_message
from asyncinfer.domain.results import chat_completion
from asyncinfer.domain.sealing import Sealer, SealingFailed, mcp_context, open_mcp_secrets
from asyncinfer.executions.base import Executions
from asyncinfer.observability import genai
from asyncinfer.providers.base import ChatProvider, EmbeddingProvider, Finished, MediaProvider, ProviderError
from asyncinfer.queue.base import TaskMessage
from asyncinfer.store.base import ConditionFailed, TaskStore
from asyncinfer.tasks import worker_spans
from asyncinfer.tasks.claims import NotClaimed, claim
from asyncinfer.tasks.embedding_task import run_embedding
from asyncinfer.tasks.event_log import ClaimLost, EventLog
from asyncinfer.tasks.handover import dispatch, hand_over, on_runner
from asyncinfer.tasks.lane_starts import count_start
from asyncinfer.tasks.long_slots import LongSlots, WaitForSlot
from asyncinfer.tasks.media import store_files
from asyncinfer.tasks.metering import Meter
from asyncinfer.tasks.outcomes import Outcome, RetryLater, WorkerConfig, fail_unclaimed, failed_changes
from asyncinfer.tasks.tool_loop import ToolLoopDeadline, run_tool_loop
from asyncinfer.tasks.topups import reserve_turn
from asyncinfer.tasks.turns import DeadlinePassed, stream_turn
from asyncinfer.tools.base import ToolHost

log = logging.getLogger(__name__)
NO_DEADLINE = 2**62


@dataclass
class Worker:
    store: TaskStore
    blobs: BlobStore
    registry: ModelRegistry
    provider_for: Callable[[ModelSpec], ChatProvider | MediaProvider | EmbeddingProvider]
    config: WorkerConfig
    upstream_for: Callable[[ModelSpec], str] = lambda spec: spec.upstream
    tool_host: Callable[[list[McpServer]], ToolHost] | None = None
    _: KW_ONLY
    sealer: Sealer
    executions: Executions | None = None
    long_slots: LongSlots | None = None

    def process(self, message: TaskMessage, remaining_ms: Callable[[], int]) -> Outcome:
        task = self.store.get(message.tenant, message.task_id)
        now = now_ms()
        if task is None or task.terminal:
            return Outcome.DROPPED
        lease_ms = remaining_ms()
        with worker_spans.claiming(task) as claiming:
            try:
                task = claim(
                    self.store, task, now, now + lease_ms, admit=lambda read: self._admit(read, now), fresh=True
                )
            except NotClaimed as not_claimed:
                return not_claimed.outcome
            worker_spans.claimed(claiming, task, now)
        if task.attempt == 1:
            self._count_start(task, now)
        # This invocation's end, or the task's own deadline if sooner.
        deadline = min(now + lease_ms - self.config.deadline_margin_ms, task.finish_by or NO_DEADLINE)
        with worker_spans.running(task):
            return self._attempt(task, deadline, remaining_ms)

    def _attempt(self, task: Task, deadline: int, remaining_ms: Callable[[], int]) -> Outcome:
        """Run the claimed `task` until `deadline`; a failure ends it, or sends it back to be tried again."""
        try:
            return self._run(task, deadline, remaining_ms)
        except ClaimLost:
            return Outcome.ABANDONED
        except WaitForSlot:
            raise  # handed over, waiting for a long-task slot: the claim stays, its lease lapses by itself
        except ProviderError as exc:
            if not exc.retryable:
                return self.finish_failed(task, exc.code, exc.message)
            if task.attempt >= self._attempts(task):
                return self.finish_failed(task, exc.code, f"{exc.message} (after {task.attempt} attempts)")
            released = self._release(task)
            raise RetryLater(exc.message, lease_left_ms=0 if released else remaining_ms()) from exc
        except Exception:
            self._release(task)
            raise

    def record_progress(self, task: Task, progress: Progress) -> None:
        """On the record, for reads; a task no longer this claim's (cancelled, re-claimed) is left alone: the
        next heartbeat stops the loop."""
        with contextlib.suppress(ConditionFailed):
            self.transition_mine(task, TaskStatus.IN_PROGRESS, {"progress": progress, "updated_at": now_ms()})

    def _admit(self, task: Task, now: int) -> Outcome | None:
        """The worker's own rules for a claim: a long task goes to the runner, a task another worker leases
        stays with it, and one out of attempts fails."""
        if on_runner(task, self.registry.models.get(task.model), self.registry, self.executions is not None):
            return dispatch(self.store, self.executions, self.long_slots, task)
        if task.status == TaskStatus.IN_PROGRESS and not task.lease_expired(now):
            return Outcome.DROPPED
        if task.attempt >= self._attempts(task):
            return fail_unclaimed(self.store, task, "too_many_attempts", f"Gave up after {task.attempt} attempts")
        return None

    def _attempts(self, task: Task) -> int:
        """Its attempts at most: the deployment's, or fewer if its batch's retry policy says so."""
        return min(task.max_attempts or self.config.max_attempts, self.config.max_attempts)

    def _count_start(self, task: Task, now: int) -> None:
        """Best effort: the count only estimates other tasks' start times."""
        try:
            count_start(self.store, lane_of(task), now)
        except Exception:
            log.warning("could not count the start of %s", task.id, exc_info=True)

    def _run(self, task: Task, deadline: int, remaining_ms: Callable[[], int]) -> Outcome:
        spec = self.registry.for_tier(self.registry.resolve(task.model, task.kind), task.service_tier)
        if task.kind in MEDIA_KINDS:
            return self._run_media(task, spec, deadline, remaining_ms)
        if task.kind == TaskKind.EMBEDDING:
            return run_embedding(self, task, spec, remaining_ms)
        try:
            request = ChatRequest.model_validate(self.stored_request(task))
        except ValidationError as exc:
            raise ProviderError("invalid_request", validation_message(exc), retryable=False) from None
        log_ = self.event_log(task, remaining_ms, Meter(spec))
        provider = self.provider_for(spec)
        assert hasattr(provider, "stream_chat"), f"{spec.provider} serves no chat"
        upstream = self.upstream_for(spec)
        system = genai.provider_name(self.registry, spec)

        turns = 0

        def turn(current: ChatRequest) -> tuple[str, Finished]:
            nonlocal turns
            if turns:  # the submit reserved the first
                used = log_.meter.usage() if log_.meter is not None else Usage()
                reserve_turn(self.store, task, spec, current.model_dump(mode="json", exclude_none=True), used)
            turns += 1
            return stream_turn(provider, upstream, current, log_, deadline, system)

        extra: dict[str, Any] = {}
        try:
            if request.mcp_servers and self.tool_host is not None:
                loop = run_tool_loop(
                    self.tool_host(request.mcp_servers),
                    request,
                    turn,
                    emit=log_.add,
                    heartbeat=log_.flush,
                    max_steps=self.config.max_tool_steps,
                    deadline_ms=deadline,
                    on_progress=lambda progress: self.record_progress(task, progress),
                )
                text, finished = loop.text, loop.finished
                if loop.reasoning_steps:
                    extra = {"reasoning_steps": loop.reasoning_steps, "executed_tool_calls": loop.executed}
            else:
                text, finished = turn(request)
        except (DeadlinePassed, ToolLoopDeadline):
            log_.flush_pending()
            # Out of this invocation, not of the task's own time: the runner runs it (tasks.handover).
            moved = hand_over(self.store, self.executions, self.long_slots, task, log_.seq)
            return moved or self.finish_late(task)
        log_.flush_pending()
        usage = finished.usage.model_copy(update={"cost": spec.prices.cost(finished.usage)})
        if finished.tool_calls:
            log_.add({"type": "tool_calls", "tool_calls": finished.tool_calls})
            log_.flush_pending()
        return self.complete(task, text, dataclasses.replace(finished, usage=usage), log_.seq, extra)

    def _run_media(self, task: Task, spec: ModelSpec, deadline: int, remaining_ms: Callable[[], int]) -> Outcome:
        config = self.stored_request(task).get("config")
        if not isinstance(config, dict):
            raise ProviderError("invalid_request", "The stored request has no config", retryable=False)
        log_ = self.event_log(task, remaining_ms, meter := Meter(spec))
        provider = self.provider_for(spec)
        assert hasattr(provider, "generate"), f"{spec.provider} serves no {task.kind.value}"
        upstream = self.upstream_for(spec)
        with genai.model_call(genai.GENERATE_CONTENT, upstream, genai.provider_name(self.registry, spec)):
            files = provider.generate(upstream, task.kind, config)
            try:
                stored = store_files(files, task, self.blobs, meter, log_, deadline)
                if stored is None:
                    return self.finish_late(task)
            finally:
                close = getattr(files, "close", None)
                if close is not None:
                    close()
        outputs, seconds = stored
        if not outputs:
            raise ProviderError("provider_error", "The model produced no output", retryable=True)
        return self.complete_media(task, spec, outputs, seconds, log_.seq)

    def complete_media(self, task: Task, spec: ModelSpec, outputs: list[Output], seconds: float, seq: int) -> Outcome:
        usage = Usage(images=len(outputs) if task.kind == TaskKind.IMAGE else None, seconds=seconds or None)
        usage = usage.model_copy(update={"cost": spec.prices.cost(usage)})
        return self._completed(task, now_ms(), usage, seq, {"outputs": outputs})

    def stored_request(self, task: Task) -> dict[str, Any]:
        """The stored request, its MCP credentials opened (only here, just before they are used)."""
        if task.request is not None:
            request = task.request
        else:
            body = self.blobs.get(task.request_key or "")
            if body is None:
                raise ProviderError("request_missing", "The stored request body is missing", retryable=False)
            request = json.loads(body)
        try:
            return open_mcp_secrets(self.sealer, request, mcp_context(task.tenant, task.batch_id or task.id))
        except SealingFailed as exc:
            raise ProviderError("secrets_unavailable", str(exc), retryable=False) from None

    def complete(
        self, task: Task, content: str, finished: Finished, seq: int, extra: dict[str, Any] | None = None
    ) -> Outcome:
        now = now_ms()
        completion = chat_completion(
            task, content, finished.finish_reason, finished.usage, created_ms=now, tool_calls=finished.tool_calls
        )
        if extra:
            message = completion["choices"][0]["message"]
            message["reasoning_steps"] = extra["reasoning_steps"]
            # The calls the worker made (reference 002 lists them on the message); a client that must run
            # calls itself gets finish_reason "tool_calls", never these.
            message.setdefault("tool_calls", extra["executed_tool_calls"])
        return self.complete_with(task, completion, finished.usage, seq, now)

    def complete_with(self, task: Task, result: dict[str, Any], usage: Usage, seq: int, now: int = 0) -> Outcome:
        """Complete `task` with `result`: on the record when small, else in S3."""
        now = now or now_ms()
        encoded = json.dumps(result, separators=(",", ":"), ensure_ascii=False).encode()
        if len(encoded) > self.config.inline_result_bytes:
            # Deterministic key: a retry after a crash here overwrites the same object.
            key = result_key(task.tenant, task.id)
            self.blobs.put(key, encoded, "application/json")
            return self._completed(task, now, usage, seq, {"result_key": key})
        return self._completed(task, now, usage, seq, {"result": result})

    def finish_late(self, task: Task) -> Outcome:
        """Stopped at its deadline: the task's own (`deadline_exceeded`), else this invocation's end."""
        if late := missed(task, now_ms()):
            return self.finish_failed(task, *late)
        return self.finish_failed(task, "timeout", "The task did not finish within its deadline")

    def finish_failed(self, task: Task, code: str, message: str) -> Outcome:
        return self._end(task, TaskStatus.FAILED, failed_changes(code, message), Outcome.FAILED)

    def _completed(self, task: Task, now: int, usage: Usage, seq: int, result: dict[str, Any]) -> Outcome:
        changes = {"status": TaskStatus.COMPLETED, "completed_at": now, "updated_at": now, "usage": usage}
        if (on_demand := on_demand_cost(self.registry, task, usage)) is not None:
            changes["cost_on_demand"] = on_demand
        return self._end(task, TaskStatus.COMPLETED, {**changes, "event_seq": seq, **result}, Outcome.COMPLETED)

    def _end(self, task: Task, target: TaskStatus, changes: dict[str, Any], outcome: Outcome) -> Outcome:
        """`outcome`, or ABANDONED when the task is no longer this claim's."""
        try:
            self.transition_mine(task, target, changes)
        except ConditionFailed:
            return Outcome.ABANDONED
        return outcome

    def event_log(self, task: Task, remaining_ms: Callable[[], int], meter: Meter) -> EventLog:
        """The attempt's event log, metered; it first tells readers to drop what an earlier attempt wrote."""
        mine = partial(self.transition_mine, task, TaskStatus.IN_PROGRESS)
        log_ = EventLog(self.store, task, remaining_ms, self.config.flush_seconds, mine)
        log_.meter = meter
        if task.event_seq:
            log_.add({"type": "restart", "attempt": task.attempt})
        return log_

    def transition_mine(self, task: Task, target: TaskStatus, changes: dict[str, Any]) -> Task:
        """A transition of `task` that holds only while this claim (its attempt, IN_PROGRESS) does."""
        return self.store.transition(
            task.tenant,
            task.id,
            expect={TaskStatus.IN_PROGRESS} & sources_of(target),
            attempt=task.attempt,
            changes=changes,
            remove=["lease_expires_at"] if target != TaskStatus.IN_PROGRESS else [],
        )

    def _release(self, task: Task) -> bool:
        """Expire our lease now so that the redelivered message can re-claim at once."""
        try:
            self.transition_mine(task, TaskStatus.IN_PROGRESS, {"lease_expires_at": now_ms()})
        except Exception:  # best effort: the lease (never longer than this invocation) expires by itself
            log.warning("could not release lease of task %s", task.id, exc_info=True)
            return False
        return True
