"""Long tasks on the durable runner: a task as a sequence of checkpointed steps (docs/architecture.md,
"Long tasks").

Each model turn and each tool call is one step. A finished step never runs again: after an interruption
the runtime runs the handler from the top and answers finished steps from their checkpoints, so usage is
counted once per turn and the conversation is rebuilt exactly. A step interrupted midway runs again; what
it had already written to the event log is not written twice (event_log.ResumedLog). Checkpoints stay
small: a long text goes to S3 and its key is checkpointed.

Each invocation claims the task once (attempt + 1, a compare-and-set) before its first live step, so an
earlier invocation still running (timed out, not yet killed) can write nothing more. When a step ends
with less time left in the invocation than a step may take, the run pauses for a second: the runtime
suspends it without compute and goes on in a fresh invocation.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any, Protocol, TypeVar

from pydantic import ValidationError

from asyncinfer.blobs.base import BlobStore, output_prefix, turn_key
from asyncinfer.domain.catalog import ModelSpec
from asyncinfer.domain.deadlines import missed
from asyncinfer.domain.job_progress import poll_report
from asyncinfer.domain.model import (
    MEDIA_KINDS,
    Progress,
    ServiceTier,
    Task,
    TaskKind,
    TaskStatus,
    Usage,
    now_ms,
)
from asyncinfer.domain.requests import ChatRequest, McpServer, validation_message
from asyncinfer.providers.base import Finished, JobProvider, ProviderError
from asyncinfer.store.base import ConditionFailed
from asyncinfer.tasks.claims import NotClaimed, claim
from asyncinfer.tasks.event_log import ClaimLost, EventLog, ResumedLog
from asyncinfer.tasks.media import stored_output
from asyncinfer.tasks.metering import Meter
from asyncinfer.tasks.outcomes import Outcome
from asyncinfer.tasks.tool_loop import STEP_LIMIT, add_usage, reasoning_step, step_progress, tool_call_step
from asyncinfer.tasks.topups import reserve_turn
from asyncinfer.tasks.turns import DeadlinePassed, stream_turn
from asyncinfer.tasks.worker import Worker
from asyncinfer.tools.base import ToolHost, ToolServerMisbehaved, ToolsUnavailable

log = logging.getLogger(__name__)
T = TypeVar("T")
MEDIA_TYPES = {"mp4": "video/mp4", "png": "image/png", "jpeg": "image/jpeg", "wav": "audio/wav"}
# A step result holds at most this much text inline; more goes to S3 (checkpoints are limited to 256 KiB).
INLINE_TEXT_BYTES = 32 * 1024


class Steps(Protocol):
    """The durable runtime as the runner uses it."""

    def step(self, name: str, body: Callable[[], T]) -> T:
        """Run `body` once and checkpoint its (JSON) result; on replay, the checkpointed result.
        A body raising RetryStep is run again after a backoff, at most a few times (then StepGaveUp)."""

    def pause(self, name: str, seconds: int) -> None:
        """Suspend without compute; the run goes on in a later invocation."""

    def remaining_ms(self) -> int:
        """Time left in this invocation."""


class RetryStep(Exception):
    """A transient failure inside a step: the runtime runs the step again after a backoff."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"[{code}] {message}")  # what the runtime checkpoints of it
        self.code = code


class StepGaveUp(Exception):
    """A step kept failing transiently; the task fails with its code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class _Ended(Exception):
    def __init__(self, outcome: Outcome) -> None:
        super().__init__(outcome.value)
        self.outcome = outcome


@dataclass(frozen=True)
class RunnerConfig:
    # The longest a step may take: with less than this left in an invocation, the next step gets a fresh one.
    step_budget_ms: int
    # A step stops streaming this long before its invocation ends (and runs again in the next).
    deadline_margin_ms: int
    max_steps: int = 50
    # Upstream jobs are polled after waits growing from the first to the longest (seconds, no compute).
    first_poll_seconds: int = 5
    poll_seconds: int = 30
    max_polls: int = 1000


class _Claim:
    """This invocation's claim on the task, taken before its first live step and fenced by `attempt`."""

    def __init__(self, worker: Worker, tenant: str, task_id: str, steps: Steps) -> None:
        self._worker = worker
        self.tenant = tenant
        self.task_id = task_id
        self.steps = steps
        self._task: Task | None = None
        self.seq = 0

    def task(self) -> Task:
        if self._task is None:
            self._task = self._take()
            self.seq = self._task.event_seq
        return self._task

    def _take(self) -> Task:
        store = self._worker.store
        current = store.get(self.tenant, self.task_id)
        if current is None or current.terminal or not current.visible():
            raise _Ended(Outcome.DROPPED)
        now = now_ms()
        try:
            return claim(store, current, now, now + self.steps.remaining_ms(), lost=Outcome.ABANDONED)
        except NotClaimed as not_claimed:
            raise _Ended(not_claimed.outcome) from None

    def check_deadline(self) -> None:
        """A step of a task past its end deadline does not run: the task fails `deadline_exceeded`."""
        if late := missed(self.task(), now_ms()):
            raise ProviderError(*late, retryable=False)

    def until_deadline_ms(self) -> int | None:
        finish_by = self.task().finish_by
        return None if finish_by is None else finish_by - now_ms()

    def log(self, base_seq: int, step: str, meter: Meter | None = None) -> EventLog | ResumedLog:
        """The step's event log; a step that ran before (its events past base_seq) resumes its own. With
        `meter`, each flush writes what the task has produced so far."""
        task = self.task()
        worker = self._worker

        def claim(changes: dict[str, Any]) -> None:
            worker.store.transition(
                task.tenant, task.id, expect={TaskStatus.IN_PROGRESS}, attempt=task.attempt, changes=changes
            )

        current = task.model_copy(update={"event_seq": self.seq})
        log = EventLog(worker.store, current, self.steps.remaining_ms, worker.config.flush_seconds, claim)
        log.meter = meter
        if self.seq <= base_seq:
            return log
        written = worker.store.read_events(task.tenant, task.id, after_seq=base_seq)
        return ResumedLog(log, [e for e in written if e["seq"] <= self.seq], step)


class LongTaskRunner:
    def __init__(
        self,
        worker: Worker,
        config: RunnerConfig,
        tools_for: Callable[[ModelSpec, list[McpServer]], ToolHost | None],
        jobs_for: Callable[[ModelSpec], JobProvider] | None = None,
    ) -> None:
        self.worker = worker
        self.config = config
        self._tools_for = tools_for
        self._jobs_for = jobs_for

    @property
    def blobs(self) -> BlobStore:
        return self.worker.blobs

    def run(self, tenant: str, task_id: str, steps: Steps) -> str:
        claim = _Claim(self.worker, tenant, task_id, steps)
        # Everything a replay's path depends on comes from checkpoints: read outside a step, a task purged
        # between two invocations would send the replay down another path than its checkpoints.
        begun = self._step(steps, claim, "begin", partial(self._begin, claim))
        if "end" in begun:
            return begun["end"]
        try:
            if TaskKind(begun["kind"]) in MEDIA_KINDS or begun.get("job"):
                return self._job(claim, steps, begun)
            return self._chat(claim, steps, begun)
        except StepGaveUp as exc:
            return self._step(steps, claim, "fail", partial(self._fail, claim, exc.code, exc.message))["end"]

    def _begin(self, claim: _Claim) -> dict[str, Any]:
        """The claim, and the plan a replay follows: the task's kind, model and class; for a chat, whether it
        runs as a job upstream and whether it has tools."""
        task = claim.task()
        plan: dict[str, Any] = {
            "seq": task.event_seq,
            "kind": task.kind.value,
            "model": task.model,
            "tier": task.service_tier.value,
        }
        if task.kind not in MEDIA_KINDS:
            spec, request = self._request(claim)
            plan["job"] = self._jobs_for is not None and self.worker.registry.upstream_job(spec)
            plan["tools"] = self._tools_for(spec, request.mcp_servers or []) is not None
        return plan

    def _step(self, steps: Steps, claim: _Claim, name: str, body: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        return steps.step(name, partial(self._guarded, claim, body))

    def _guarded(self, claim: _Claim, body: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        """A step body; the task ending under it (cancelled, deleted) is its checkpointed result."""
        try:
            return body()
        except _Ended as ended:
            return {"end": ended.outcome.value}
        except ClaimLost:
            return {"end": Outcome.ABANDONED.value}
        except ProviderError as exc:
            if exc.retryable:
                raise RetryStep(exc.code, exc.message) from None
            return {"end": self._fail(claim, exc.code, exc.message)["end"]}
        except RetryStep:
            raise
        except Exception as exc:
            # A throttled or failed AWS call, a bug: the step runs again after a backoff, a few times.
            log.warning("step failed; it will be retried", exc_info=True)
            raise RetryStep("internal_error", f"{type(exc).__name__}: {exc}") from exc

    def _fail(self, claim: _Claim, code: str, message: str) -> dict[str, Any]:
        return {"end": self.worker.finish_failed(claim.task(), code, message).value}

    def _request(self, claim: _Claim) -> tuple[ModelSpec, ChatRequest]:
        task = self.worker.store.get(claim.tenant, claim.task_id)
        if task is None:
            raise _Ended(Outcome.DROPPED)
        spec = self.worker.registry.for_tier(self.worker.registry.resolve(task.model, task.kind), task.service_tier)
        try:
            return spec, ChatRequest.model_validate(self.worker.stored_request(task))
        except ValidationError as exc:
            raise ProviderError("invalid_request", validation_message(exc), retryable=False) from None

    def _chat(self, claim: _Claim, steps: Steps, plan: dict[str, Any]) -> str:
        registry = self.worker.registry
        spec = registry.for_tier(registry.resolve(plan["model"], TaskKind(plan["kind"])), ServiceTier(plan["tier"]))
        seq = plan["seq"]
        body = self._body(claim)
        messages: list[dict[str, Any]] = body.get("messages", [])
        tools = list(body.get("tools") or [])
        offered: list[str] = []
        if plan.get("tools"):
            listed = self._step(steps, claim, "tools", partial(self._offered, claim, spec))
            if "end" in listed:
                return listed["end"]
            tools += listed["tools"]
            offered = [t["function"]["name"] for t in listed["tools"]]
        usage = Usage()
        reasoning: list[dict[str, Any]] = []
        executed: list[dict[str, Any]] = []
        for n in range(self.config.max_steps + 1):
            current = {**body, "messages": messages, **({"tools": tools} if tools else {})}
            turn = self._step(
                steps, claim, f"turn-{n}", partial(self._turn, claim, spec, current, seq, f"turn-{n}", usage)
            )
            if "end" in turn:
                return turn["end"]
            seq = turn["seq"]
            usage = add_usage(usage, Usage.model_validate(turn["usage"]))
            text = self._text(turn)
            calls = turn.get("tool_calls") or []
            ours = [c for c in calls if c.get("function", {}).get("name") in offered]
            if not ours or len(ours) < len(calls) or n == self.config.max_steps:
                reason = STEP_LIMIT if ours and len(ours) == len(calls) else turn["finish_reason"]
                finished = Finished(reason, usage, None if reason == STEP_LIMIT else turn.get("tool_calls"))
                extra = {"reasoning_steps": reasoning, "executed_tool_calls": executed} if reasoning else None
                done = partial(self._finish, claim, spec, text, finished, seq, extra)
                return self._step(steps, claim, "finish", done)["end"]
            self._pause_if_short(steps, turn, f"turn-{n}")
            messages = [*messages, {"role": "assistant", "content": text or None, "tool_calls": ours}]
            for i, call in enumerate(ours):
                name = f"tool-{n}-{i}"
                # The turn's last call ends a step of the task: its progress is told with it.
                progress = step_progress(n + 1, turn.get("steps"), ours) if i == len(ours) - 1 else None
                tool = partial(self._tool, claim, spec, call, seq, name, progress)
                result = self._step(steps, claim, name, tool)
                if "end" in result:
                    return result["end"]
                seq = result["seq"]
                executed.append(call)
                reasoning.append(reasoning_step(text, result["step"]))
                messages = [
                    *messages,
                    {"role": "tool", "tool_call_id": call.get("id") or name, "content": result["content"]},
                ]
                self._pause_if_short(steps, result, name)
        raise AssertionError("unreachable")  # pragma: no cover

    def _job(self, claim: _Claim, steps: Steps, plan: dict[str, Any]) -> str:
        """A task that runs as a job upstream (a video, a background response): started once, then polled
        after waits without compute. A cancelled task's job is cancelled upstream at the next poll."""
        seq, model = plan["seq"], plan["model"]
        registry = self.worker.registry
        spec = registry.for_tier(registry.resolve(model, TaskKind(plan["kind"])), ServiceTier(plan["tier"]))
        if self._jobs_for is None:
            raise StepGaveUp("invalid_request", f"{model} runs no upstream jobs here")
        jobs = self._jobs_for(spec)
        if jobs is None:
            raise StepGaveUp("invalid_request", f"{model} runs no upstream jobs")
        started = self._step(steps, claim, "start-job", partial(self._start_job, claim, spec, jobs, seq))
        if "end" in started:
            return started["end"]
        job, seq, told = started["job"], started["seq"], None
        wait = self.config.first_poll_seconds
        finish_by = started.get("finish_by")
        for n in range(self.config.max_polls):
            # Not past the task's deadline: the poll after it cancels the job.
            left = wait if finish_by is None else max(1, min(wait, -(-(finish_by - now_ms()) // 1000)))
            steps.pause(f"wait-{n}", left)
            wait = min(self.config.poll_seconds, max(wait + 1, int(wait * 1.5)))
            polled = self._step(steps, claim, f"poll-{n}", partial(self._poll_job, claim, jobs, job, seq, told, spec))
            if "end" in polled:
                return polled["end"]
            seq, told = polled["seq"], polled.get("told")
            if polled["state"] == "completed" and TaskKind(plan["kind"]) == TaskKind.CHAT:
                done = partial(self._finish_chat_job, claim, spec, jobs, job, seq)
                return self._step(steps, claim, "finish", done)["end"]
            if polled["state"] == "completed":
                done = partial(self._finish_job, claim, spec, polled["outputs"], seq)
                return self._step(steps, claim, "finish", done)["end"]
            if polled["state"] == "failed":
                failed = partial(self._fail, claim, "provider_error", polled.get("error") or "The upstream job failed")
                return self._step(steps, claim, "fail", failed)["end"]
        raise StepGaveUp("timeout", f"The upstream job did not finish within {self.config.max_polls} polls")

    def _start_job(self, claim: _Claim, spec: ModelSpec, jobs: JobProvider, base: int) -> dict[str, Any]:
        log = claim.log(base, "start-job")
        task = claim.task()
        request = self.worker.stored_request(task)
        config = request if task.kind == TaskKind.CHAT else request.get("config") or {}
        prefix = self.blobs.uri(output_prefix(task.tenant, task.id)).rstrip("/")
        claim.check_deadline()
        known = self.worker.store.get(task.tenant, task.id)
        if known is not None and known.upstream_job is not None:
            job = known.upstream_job  # this step ran before, and its job was created then
        else:
            job = jobs.start(self.worker.upstream_for(spec), task.kind, config, prefix, token=task.id)
            self._keep_job(task, jobs, job)
        log.add({"type": "job_started"})
        log.flush()
        claim.seq = log.seq
        return {"job": job, "seq": log.seq, "finish_by": task.finish_by}

    def _keep_job(self, task: Task, jobs: JobProvider, job: dict[str, Any]) -> None:
        """The job on the task's record before anything else: the create is the one call that, interrupted
        right after it answered, could be made twice (the upstream may offer no idempotency key)."""
        try:
            self.worker.store.transition(
                task.tenant,
                task.id,
                expect={TaskStatus.IN_PROGRESS},
                attempt=task.attempt,
                changes={"upstream_job": job},
            )
        except ConditionFailed:
            jobs.cancel(job)  # no longer ours (cancelled, re-claimed): nobody would poll it
            raise ClaimLost() from None

    def _poll_job(
        self, claim: _Claim, jobs: JobProvider, job: dict, base: int, told: dict | None, spec: ModelSpec
    ) -> dict[str, Any]:
        try:
            claim.task()
            claim.check_deadline()
        except (_Ended, ProviderError):
            # The task was cancelled (or deleted), or its deadline passed: so is its job, where the upstream can.
            jobs.cancel(job)
            raise
        state = jobs.poll(job)
        log = claim.log(base, "poll")
        record, tell = poll_report(state.progress, state.state, claim.task().started_at, spec.expected_seconds, told)
        if tell is not None:
            log.add({"type": "progress", **tell.model_dump(exclude_none=True)})
        log.flush()  # also the heartbeat: a task cancelled since the claim stops here
        claim.seq = log.seq
        if record is not None:
            self.worker.record_progress(claim.task(), record)
        return {
            "state": state.state,
            "told": told if tell is None else tell.model_dump(exclude_none=True),
            "outputs": list(state.outputs),
            "error": state.error,
            "seq": log.seq,
        }

    def _finish_chat_job(
        self, claim: _Claim, spec: ModelSpec, jobs: JobProvider, job: dict, seq: int
    ) -> dict[str, Any]:
        """The answer is read here, not checkpointed by the poll: it may be long."""
        task = claim.task()
        state = jobs.poll(job)
        if state.state != "completed":
            raise ProviderError("provider_error", "The background response changed after it completed", retryable=True)
        text, usage = state.text or "", state.usage or Usage()
        log = claim.log(seq, "finish")
        if text:
            log.add({"type": "delta", "text": text})
        log.flush_pending()
        finished = Finished("stop", usage.model_copy(update={"cost": spec.prices.cost(usage)}))
        return {"end": self.worker.complete(task, text, finished, log.seq).value}

    def _finish_job(self, claim: _Claim, spec: ModelSpec, keys: list[str], seq: int) -> dict[str, Any]:
        task = claim.task()
        outputs = []
        for index, key in enumerate(keys):
            size = self.blobs.size(key)
            if size is None:
                raise ProviderError("provider_error", "The upstream job's output is missing", retryable=False)
            kind = task.kind.value
            outputs.append(
                stored_output(
                    task, index, key, kind, MEDIA_TYPES.get(key.rsplit(".", 1)[-1], "application/octet-stream"), size
                )
            )
        log = claim.log(seq, "finish")
        for index, output in enumerate(outputs):
            log.add({"type": "output", "index": index, "file_type": output.file_type, "size": output.size})
        log.flush_pending()
        config = self.worker.stored_request(task).get("config") or {}
        seconds = float(config.get("duration") or 0) * len(outputs)
        return {"end": self.worker.complete_media(task, spec, outputs, seconds, log.seq).value}

    def _pause_if_short(self, steps: Steps, result: dict[str, Any], after: str) -> None:
        if result.get("pause"):
            steps.pause(f"after-{after}", 1)

    def _ends(self, steps: Steps) -> dict[str, Any]:
        """Bookkeeping every step result carries: whether the next step needs a fresh invocation."""
        return {"pause": steps.remaining_ms() < self.config.step_budget_ms}

    def _body(self, claim: _Claim) -> dict[str, Any]:
        """The request's body, from which live turns are made; {} once the task is gone (a replay then follows
        its checkpoints, and the next live step finds the task gone and ends)."""
        task = self.worker.store.get(claim.tenant, claim.task_id)
        if task is None or task.terminal or not task.visible():
            return {}
        return self._request(claim)[1].model_dump(mode="json", exclude_none=True)

    def _offered(self, claim: _Claim, spec: ModelSpec) -> dict[str, Any]:
        _, request = self._request(claim)
        host = self._tools_for(spec, request.mcp_servers or [])
        assert host is not None

        async def listed() -> list[dict[str, Any]]:
            async with host:
                return host.offered()

        return {"tools": _run_tools(listed)}

    def _turn(
        self, claim: _Claim, spec: ModelSpec, body: dict[str, Any], base: int, name: str, done: Usage
    ) -> dict[str, Any]:
        # What the turns before this one used is charged with what this one streams, if the task is stopped.
        log = claim.log(base, name, Meter(spec, done))
        task = claim.task()
        claim.check_deadline()
        if name != "turn-0":  # the submit reserved the first
            reserve_turn(self.worker.store, task, spec, body, Meter(spec, done).usage())
        provider = self.worker.provider_for(spec)
        deadline = now_ms() + claim.steps.remaining_ms() - self.config.deadline_margin_ms
        deadline = min(deadline, task.finish_by or deadline)
        request = ChatRequest.model_validate(body)
        try:
            text, finished = stream_turn(provider, self.worker.upstream_for(spec), request, log, deadline)
        except DeadlinePassed:
            log.flush_pending()
            claim.check_deadline()
            raise RetryStep("timeout", "A model turn did not fit in one invocation of the runner") from None
        log.flush_pending()
        claim.seq = log.seq
        result: dict[str, Any] = {
            "seq": log.seq,
            "usage": finished.usage.model_dump(exclude_none=True),
            "finish_reason": finished.finish_reason,
            "tool_calls": finished.tool_calls,
            "steps": finished.steps,
            **self._ends(claim.steps),
        }
        if len(text.encode()) > INLINE_TEXT_BYTES:
            key = turn_key(task.tenant, task.id, name)
            self.blobs.put(key, text.encode(), "text/plain; charset=utf-8")
            result["text_key"] = key
        else:
            result["text"] = text
        return result

    def _text(self, turn: dict[str, Any]) -> str:
        if "text_key" not in turn:
            return turn.get("text", "")
        body = self.blobs.get(turn["text_key"])
        if body is None:
            raise StepGaveUp("result_missing", "A model turn's stored text is missing")
        return body.decode()

    def _tool(
        self,
        claim: _Claim,
        spec: ModelSpec,
        call: dict[str, Any],
        base: int,
        name: str,
        progress: Progress | None = None,
    ) -> dict[str, Any]:
        log = claim.log(base, name)
        _, request = self._request(claim)
        function = call.get("function", {})
        tool, arguments = function.get("name", ""), function.get("arguments") or "{}"
        log.add({"type": "tool_call", "id": call.get("id"), "name": tool, "arguments": arguments})
        host = self._tools_for(spec, request.mcp_servers or [])
        assert host is not None
        claim.check_deadline()
        left_ms = claim.steps.remaining_ms() - self.config.deadline_margin_ms
        if (until := claim.until_deadline_ms()) is not None:
            left_ms = min(left_ms, until)
        seconds = max(0.0, left_ms / 1000)

        async def called() -> Any:
            async with host, asyncio.timeout(seconds):
                return await host.call(tool, arguments)

        try:
            outcome = _run_tools(called)
        except TimeoutError:
            log.flush_pending()
            claim.check_deadline()
            raise RetryStep("timeout", "A tool call did not fit in one invocation of the runner") from None
        log.add(
            {
                "type": "tool_result",
                "id": call.get("id"),
                "name": tool,
                "is_error": outcome.is_error,
                "content": outcome.content,
            }
        )
        if progress is not None:
            log.add({"type": "progress", **progress.model_dump(exclude_none=True)})
        log.flush()  # the step's events, and the cancellation check
        claim.seq = log.seq
        if progress is not None:
            self.worker.record_progress(claim.task(), progress)
        step = tool_call_step(outcome)
        return {"seq": log.seq, "content": outcome.content, "step": step, **self._ends(claim.steps)}

    def _finish(
        self,
        claim: _Claim,
        spec: ModelSpec,
        text: str,
        finished: Finished,
        seq: int,
        extra: dict[str, Any] | None,
    ) -> dict[str, Any]:
        task = claim.task()
        log = claim.log(seq, "finish")
        usage = finished.usage.model_copy(update={"cost": spec.prices.cost(finished.usage)})
        if finished.tool_calls:
            log.add({"type": "tool_calls", "tool_calls": finished.tool_calls})
        log.flush_pending()
        outcome = self.worker.complete(
            task, text, Finished(finished.finish_reason, usage, finished.tool_calls), log.seq, extra
        )
        return {"end": outcome.value}


def _raise(exc: BaseException) -> dict[str, Any]:
    raise exc


def _run_tools(body: Callable[[], Any]) -> Any:
    """A tool host's async work, from the runner's synchronous step."""
    try:
        return asyncio.run(body())
    except ToolsUnavailable as exc:
        raise ProviderError("mcp_unreachable", str(exc), retryable=False) from None
    except ToolServerMisbehaved as exc:
        raise ProviderError(exc.code, str(exc), retryable=False) from None
