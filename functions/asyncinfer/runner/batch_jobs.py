"""A part of a batch sent up as one provider batch job (asyncinfer.providers.batch_jobs), on the durable runner:
one execution per part, named `batchpart-<batch id>-<part>`, as checkpointed steps:

1. `prepare`: the part's items still waiting, as the job's input file (`<part prefix>/input.jsonl` in the bucket).
   Too few for the model's minimum: nothing is started and every item is handed back (`absent`).
2. `start`: the job, started with a token of the batch and part, and kept on the part's record
   (`<part prefix>/job.json`) before the step returns: an interrupted step that runs again finds it there instead
   of starting a second job where the upstream has no idempotency.
3. `wait-N` / `poll-N`: durable waits, which cost no compute
   (https://docs.aws.amazon.com/durable-functions/sdk-reference/operations/wait/), growing up to the model's
   `batch.poll_seconds`, each followed by one poll. At a poll of a running job, the watch decides whether to stop
   it (by default: the batch is cancelling, or past its completion window) and how soon to look again; a stopped
   job's output is still collected.
4. `results`, then `collect-C`: the records in steps of CHUNK. Each item is claimed (CREATED -> IN_PROGRESS, fenced
   by its attempt, asyncinfer.tasks.claims) and completed or failed through the worker, so usage (at the model's
   batch price), counting and webhooks are those of any task. An ended item is left alone: a collect step that
   runs again completes nothing twice.
5. `absent`: the items the job did not answer (stopped, expired, too few) are handed to `on_absent`, the caller's
   decision (run them on demand, or fail them as expired).

A part is started by asyncinfer.tasks.provider_parts.start_part; which items make parts, by
asyncinfer.domain.batch_parts.plan_parts."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial
from typing import Any, TypeVar

from asyncinfer.domain.batch_parts import batchable, part_prefix
from asyncinfer.domain.batches import item_task_id
from asyncinfer.domain.catalog import ModelSpec
from asyncinfer.domain.lanes import TIER_PATHS
from asyncinfer.domain.model import TaskKind, TaskStatus, Usage, now_ms
from asyncinfer.domain.records import Batch, BatchStatus
from asyncinfer.providers.base import Finished, ProviderError
from asyncinfer.providers.batch_jobs import BatchJobs, BatchJobState, BatchRecord, RecordResult
from asyncinfer.runner.steps import RetryStep, StepGaveUp, Steps
from asyncinfer.store.base import BatchStore
from asyncinfer.tasks.claims import NotClaimed, claim
from asyncinfer.tasks.outcomes import Outcome
from asyncinfer.tasks.worker import Worker

log = logging.getLogger(__name__)
T = TypeVar("T")
CHUNK = 100
FIRST_POLL_SECONDS = 5
MAX_POLLS = 2000


@dataclass(frozen=True)
class Look:
    """What a watch decides at a poll of a running job: stop it now, and look again within so many seconds."""

    stop: bool
    within_seconds: int | None = None
    # The class the part's waiting items move to, the job stopped (a `complete_by` batch's escalation).
    escalate: str | None = None


# (the batch's record, None if gone; the job's state; now in epoch ms; the part's model) -> Look. The default stops
# the job of a batch being cancelled or past its completion window; a `complete_by` batch's escalation
# (asyncinfer.runner.batch_watch) is another: stop when on-demand must take over, and look again no later than the
# latest switch.
Watch = Callable[[Batch | None, BatchJobState, int, str], Look]
# (tenant, batch id, the part's item indexes, the class, the source `p<part>`) -> what was done: the items still
# waiting on the part move to that class's lane (asyncinfer.tasks.part_escalation).
Escalate = Callable[[str, str, list[int], str, str], dict[str, Any]]


def stop_when_cancelled_or_late(batch: Batch | None, state: BatchJobState, now: int, model: str = "") -> Look:
    if batch is None or batch.status == BatchStatus.CANCELLING:
        return Look(stop=True)
    if batch.deadline_at is None:
        return Look(stop=False)
    return Look(stop=now >= batch.deadline_at, within_seconds=max(1, -(-(batch.deadline_at - now) // 1000)))


@dataclass(frozen=True)
class Part:
    tenant: str
    batch_id: str
    number: int

    @property
    def prefix(self) -> str:
        return part_prefix(self.tenant, self.batch_id, self.number)

    @property
    def token(self) -> str:
        return f"{self.batch_id}-{self.number}"


class BatchJobSteps:
    def __init__(
        self,
        worker: Worker,
        batches: BatchStore,
        jobs_for: Callable[[ModelSpec], BatchJobs | None],
        on_absent: Callable[[str, str, list[int]], None] | None = None,
        watch: Watch | None = None,
        on_escalate: Escalate | None = None,
    ) -> None:
        self.worker = worker
        self.batches = batches
        self._jobs_for = jobs_for
        self._on_absent = on_absent
        self._watch = watch or stop_when_cancelled_or_late
        self._on_escalate = on_escalate

    def run(self, tenant: str, batch_id: str, number: int, steps: Steps) -> dict[str, Any]:
        part = Part(tenant, batch_id, number)
        try:
            return self._run(part, steps)
        except StepGaveUp as exc:
            # A step kept failing (the upstream refused the job, say): the items not ended go back to the caller.
            handed = _step(steps, "gave-up", partial(self._give_up, part))
            return {"status": "gave_up", "code": exc.code, "message": exc.message, **handed}

    def _run(self, part: Part, steps: Steps) -> dict[str, Any]:
        prepared = _step(steps, "prepare", partial(self._prepare, part))
        sent, counts = prepared["sent"], {"completed": 0, "failed": 0, "discarded": 0}
        if sent:
            job = _step(steps, "start", partial(self._start, part, prepared["model"]))
            ended = self._wait(part, prepared, job, steps)
            found = _step(steps, "results", partial(self._found, prepared["model"], job))
            for c in range(-(-found["count"] // CHUNK)):
                done = _step(steps, f"collect-{c}", partial(self._collect, part, prepared["model"], job, c))
                counts = {name: counts[name] + done.get(name, 0) for name in counts}
            answered = set(found["indexes"])
            absent = [i for i in sent if i not in answered] + prepared["left"]
        else:
            ended, absent = {"status": "not_started"}, prepared["left"]
        if absent and self._on_absent is not None:
            _step(steps, "absent", partial(self._hand_back, part, sorted(absent)))
        escalated = {"escalated": ended["escalated"]} if ended.get("escalated") else {}
        return {"status": ended["status"], **counts, "absent": sorted(absent), **escalated}

    def _spec(self, model: str) -> ModelSpec:
        registry = self.worker.registry
        return registry.resolve(model, TaskKind.CHAT)

    def _jobs(self, model: str) -> BatchJobs:
        jobs = self._jobs_for(self._spec(model))
        if jobs is None:
            raise RetryStep("invalid_request", f"{model} has no batch jobs here")
        return jobs

    def _prepare(self, part: Part) -> dict[str, Any]:
        raw = self.worker.blobs.get(f"{part.prefix}/part.json")
        if raw is None:
            raise RetryStep("internal_error", f"the part record {part.prefix}/part.json is missing")
        record = json.loads(raw)
        model, indexes = record["model"], record["indexes"]
        ids = {index: item_task_id(part.batch_id, index) for index in indexes}
        tasks = self.batches.get_tasks(part.tenant, list(ids.values()))
        going, left = [], []
        for index in indexes:
            task = tasks.get(ids[index])
            if task is None or task.terminal:
                continue  # made ended (cancelled, refused) or gone: nothing to send
            request = self.worker.stored_request(task)
            if task.status == TaskStatus.CREATED and task.path not in TIER_PATHS and batchable(request):
                going.append(BatchRecord(index, request))
            else:
                left.append(index)
        spec = self._spec(model)
        api = self.worker.registry.batch_api(spec)
        if api is None or len(going) < api.min_records:
            return {"model": model, "sent": [], "left": sorted(left + [r.index for r in going])}
        jobs = self._jobs(model)
        data = jobs.prepare(self.worker.upstream_for(spec), going)
        self.worker.blobs.put(f"{part.prefix}/input.jsonl", data, "application/jsonl")
        # A `complete_by` part is first looked at after a second: it may have to escalate at once.
        look_first = 1 if record.get("complete_by") is not None else FIRST_POLL_SECONDS
        return {"model": model, "sent": [r.index for r in going], "left": sorted(left), "look_first": look_first}

    def _start(self, part: Part, model: str) -> dict[str, Any]:
        blobs = self.worker.blobs
        kept = blobs.get(f"{part.prefix}/job.json")
        if kept is not None:
            return json.loads(kept)  # started by an earlier run of this step
        data = blobs.get(f"{part.prefix}/input.jsonl")
        if data is None:
            raise RetryStep("internal_error", f"the part's input {part.prefix}/input.jsonl is missing")
        input_uri, output_uri = blobs.uri(f"{part.prefix}/input.jsonl"), blobs.uri(f"{part.prefix}/output/")
        spec = self._spec(model)
        job = self._jobs(model).start(self.worker.upstream_for(spec), data, input_uri, output_uri, part.token)
        job["started_ms"] = now_ms()  # the job's start where the upstream's poll does not say it
        blobs.put(f"{part.prefix}/job.json", json.dumps(job).encode(), "application/json")
        return job

    def _wait(self, part: Part, prepared: dict[str, Any], job: dict[str, Any], steps: Steps) -> dict[str, Any]:
        model, sent = prepared["model"], prepared["sent"]
        api = self.worker.registry.batch_api(self._spec(model))
        longest = api.poll_seconds if api is not None else 60
        wait = min(FIRST_POLL_SECONDS, longest, prepared.get("look_first", FIRST_POLL_SECONDS))
        stopped, escalated = False, None
        for n in range(MAX_POLLS):
            steps.pause(f"wait-{n}", wait)
            wait = min(longest, max(wait + 1, int(wait * 1.5)))
            polled = _step(steps, f"poll-{n}", partial(self._poll, part, model, job, stopped, sent))
            stopped, escalated = polled["stopped"], escalated or polled.get("escalated")
            polled = {**polled, "escalated": escalated}
            if polled.get("within") is not None:
                wait = max(1, min(wait, polled["within"]))  # the watch wants to look again sooner
            if polled["state"] != "running":
                return polled
        raise StepGaveUp("timeout", f"the batch job did not end within {MAX_POLLS} polls")

    def _poll(self, part: Part, model: str, job: dict[str, Any], stopped: bool, sent: list[int]) -> dict[str, Any]:
        jobs = self._jobs(model)
        state = jobs.poll(job)
        if state.started_ms is None and job.get("started_ms") is not None:
            state = replace(state, started_ms=job["started_ms"])
        look: Look = Look(stop=False)
        escalated = None
        if not stopped and state.state == "running":
            look = self._watch(self.batches.get_batch(part.tenant, part.batch_id), state, now_ms(), model)
            if look.stop:
                jobs.stop(job)  # what it produced is still collected; the rest is handed back
                stopped = True
            if look.escalate is not None and self._on_escalate is not None:
                # In this step: a replay answers from its checkpoint, a retried step moves and sends harmlessly.
                self._on_escalate(part.tenant, part.batch_id, sent, look.escalate, f"p{part.number}")
                escalated = look.escalate
        polled = {"state": state.state, "status": state.status, "processed": state.processed, "total": state.total}
        within = look.within_seconds
        return {**polled, "stopped": stopped, "error": state.error, "within": within, "escalated": escalated}

    def _results(self, model: str, job: dict[str, Any]) -> list[RecordResult]:
        return sorted(self._jobs(model).results(job), key=lambda r: r.index)

    def _found(self, model: str, job: dict[str, Any]) -> dict[str, Any]:
        results = self._results(model, job)
        return {"count": len(results), "indexes": [r.index for r in results]}

    def _collect(self, part: Part, model: str, job: dict[str, Any], chunk: int) -> dict[str, int]:
        spec = self.worker.registry.at_batch_prices(self._spec(model))
        mine = self._results(model, job)[chunk * CHUNK : (chunk + 1) * CHUNK]
        ids = {r.index: item_task_id(part.batch_id, r.index) for r in mine}
        tasks = self.batches.get_tasks(part.tenant, list(ids.values()))
        counts = {"completed": 0, "failed": 0, "discarded": 0}
        for result in mine:
            task = tasks.get(ids[result.index])
            if task is None or task.terminal:
                continue
            if task.path in TIER_PATHS:
                counts["discarded"] += 1  # escalated: its class's lane ends it, this answer is dropped
                continue
            now = now_ms()
            try:
                claimed = claim(self.worker.store, task, now, now + 60_000)
            except NotClaimed:
                continue  # ended or taken meanwhile: its ending is someone else's
            if result.code is not None:
                outcome = self.worker.finish_failed(claimed, result.code, result.message or result.code)
                counts["failed"] += outcome == Outcome.FAILED
                continue
            usage = result.usage.model_copy(update={"cost": spec.prices.cost(result.usage)}) if result.usage else None
            finished = Finished(result.finish_reason, usage or Usage())
            outcome = self.worker.complete(claimed, result.text or "", finished, claimed.event_seq)
            counts["completed"] += outcome == Outcome.COMPLETED
        return counts

    def _give_up(self, part: Part) -> dict[str, Any]:
        raw = self.worker.blobs.get(f"{part.prefix}/part.json")
        indexes = json.loads(raw)["indexes"] if raw is not None else []
        tasks = self.batches.get_tasks(part.tenant, [item_task_id(part.batch_id, i) for i in indexes])
        ended = {t.batch_index for t in tasks.values() if t.terminal}
        absent = [i for i in indexes if i not in ended]
        if absent and self._on_absent is not None:
            self._on_absent(part.tenant, part.batch_id, absent)
        return {"completed": 0, "failed": 0, "absent": absent}

    def _hand_back(self, part: Part, absent: list[int]) -> dict[str, Any]:
        assert self._on_absent is not None
        self._on_absent(part.tenant, part.batch_id, absent)
        return {"absent": len(absent)}


def _step(steps: Steps, name: str, body: Callable[[], T]) -> T:
    return steps.step(name, partial(_guarded, body))


def _guarded(body: Callable[[], T]) -> T:
    """A step's body: a transient failure (a throttled call, a retryable upstream error) is the runtime's to retry;
    an upstream's refusal fails the step, and the part gives up (its items are handed back)."""
    try:
        return body()
    except RetryStep:
        raise
    except ProviderError as exc:
        if exc.retryable:
            raise RetryStep(exc.code, exc.message) from None
        raise
    except Exception as exc:
        log.warning("batch part step failed; it will be retried", exc_info=True)
        raise RetryStep("internal_error", f"{type(exc).__name__}: {exc}") from exc
