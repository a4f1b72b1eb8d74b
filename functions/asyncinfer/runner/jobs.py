"""A task that runs as a job upstream (a video, a background response) on the runner: started once
(`start-job`), then polled (`poll-N`) after durable waits without compute, then `finish`. A cancelled
task's job is cancelled upstream at the next poll."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from asyncinfer.blobs.base import output_prefix
from asyncinfer.domain.catalog import ModelRegistry, ModelSpec
from asyncinfer.domain.job_progress import poll_report
from asyncinfer.domain.model import Task, TaskKind, TaskStatus, Usage, now_ms
from asyncinfer.providers.base import Finished, JobProvider, ProviderError
from asyncinfer.runner.run import Ended, Run
from asyncinfer.runner.steps import StepGaveUp
from asyncinfer.store.base import ConditionFailed
from asyncinfer.tasks.event_log import ClaimLost
from asyncinfer.tasks.media import stored_output

MEDIA_TYPES = {"mp4": "video/mp4", "png": "image/png", "jpeg": "image/jpeg", "wav": "audio/wav"}


class JobSteps:
    def __init__(self, jobs_for: Callable[[ModelSpec], JobProvider] | None) -> None:
        self._jobs_for = jobs_for

    def runs_job(self, registry: ModelRegistry, spec: ModelSpec) -> bool:
        """Whether a chat with `spec` runs as a job upstream (as the plan checkpoints it)."""
        return self._jobs_for is not None and registry.upstream_job(spec)

    def run(self, run: Run, plan: dict[str, Any]) -> str:
        seq, model = plan["seq"], plan["model"]
        spec = run.spec(plan)
        if self._jobs_for is None:
            raise StepGaveUp("invalid_request", f"{model} runs no upstream jobs here")
        jobs = self._jobs_for(spec)
        if jobs is None:
            raise StepGaveUp("invalid_request", f"{model} runs no upstream jobs")
        started = run.step("start-job", partial(self._start, run, spec, jobs, seq))
        if "end" in started:
            return started["end"]
        job, seq, told = started["job"], started["seq"], None
        config = run.config
        wait = config.first_poll_seconds
        finish_by = started.get("finish_by")
        for n in range(config.max_polls):
            # Not past the task's deadline: the poll after it cancels the job.
            left = wait if finish_by is None else max(1, min(wait, -(-(finish_by - now_ms()) // 1000)))
            run.steps.pause(f"wait-{n}", left)
            wait = min(config.poll_seconds, max(wait + 1, int(wait * 1.5)))
            polled = run.step(f"poll-{n}", partial(self._poll, run, jobs, job, seq, told, spec))
            if "end" in polled:
                return polled["end"]
            seq, told = polled["seq"], polled.get("told")
            if polled["state"] == "completed" and TaskKind(plan["kind"]) == TaskKind.CHAT:
                return run.step("finish", partial(self._finish_chat, run, spec, jobs, job, seq))["end"]
            if polled["state"] == "completed":
                return run.step("finish", partial(self._finish, run, spec, polled["outputs"], seq))["end"]
            if polled["state"] == "failed":
                failed = partial(run.fail, "provider_error", polled.get("error") or "The upstream job failed")
                return run.step("fail", failed)["end"]
        raise StepGaveUp("timeout", f"The upstream job did not finish within {config.max_polls} polls")

    def _start(self, run: Run, spec: ModelSpec, jobs: JobProvider, base: int) -> dict[str, Any]:
        log = run.log(base, "start-job")
        task = run.task()
        worker = run.worker
        request = worker.stored_request(task)
        config = request if task.kind == TaskKind.CHAT else request.get("config") or {}
        prefix = worker.blobs.uri(output_prefix(task.tenant, task.id)).rstrip("/")
        run.check_deadline()
        known = worker.store.get(task.tenant, task.id)
        if known is not None and known.upstream_job is not None:
            job = known.upstream_job  # this step ran before, and its job was created then
        else:
            job = jobs.start(worker.upstream_for(spec), task.kind, config, prefix, token=task.id)
            self._keep(run, task, jobs, job)
        log.add({"type": "job_started"})
        log.flush()
        run.seq = log.seq
        return {"job": job, "seq": log.seq, "finish_by": task.finish_by}

    def _keep(self, run: Run, task: Task, jobs: JobProvider, job: dict[str, Any]) -> None:
        """The job on the task's record before anything else: the create is the one call that, interrupted
        right after it answered, could be made twice (the upstream may offer no idempotency key)."""
        try:
            run.worker.transition_mine(task, TaskStatus.IN_PROGRESS, {"upstream_job": job})
        except ConditionFailed:
            jobs.cancel(job)  # no longer ours (cancelled, re-claimed): nobody would poll it
            raise ClaimLost() from None

    def _poll(
        self, run: Run, jobs: JobProvider, job: dict, base: int, told: dict | None, spec: ModelSpec
    ) -> dict[str, Any]:
        try:
            run.task()
            run.check_deadline()
        except (Ended, ProviderError):
            # The task was cancelled (or deleted), or its deadline passed: so is its job, where the upstream can.
            jobs.cancel(job)
            raise
        state = jobs.poll(job)
        log = run.log(base, "poll")
        record, tell = poll_report(state.progress, state.state, run.task().started_at, spec.expected_seconds, told)
        if tell is not None:
            log.add({"type": "progress", **tell.model_dump(exclude_none=True)})
        try:
            log.flush()  # also the heartbeat: a task cancelled since the claim stops here
        except ClaimLost:
            jobs.cancel(job)  # cancelled while this poll ran: its job too, as at the next poll's start
            raise
        run.seq = log.seq
        if record is not None:
            run.worker.record_progress(run.task(), record)
        return {
            "state": state.state,
            "told": told if tell is None else tell.model_dump(exclude_none=True),
            "outputs": list(state.outputs),
            "error": state.error,
            "seq": log.seq,
        }

    def _finish_chat(self, run: Run, spec: ModelSpec, jobs: JobProvider, job: dict, seq: int) -> dict[str, Any]:
        """The answer is read here, not checkpointed by the poll: it may be long."""
        task = run.task()
        state = jobs.poll(job)
        if state.state != "completed":
            raise ProviderError("provider_error", "The background response changed after it completed", retryable=True)
        text, usage = state.text or "", state.usage or Usage()
        log = run.log(seq, "finish")
        if text:
            log.add({"type": "delta", "text": text})
        log.flush_pending()
        finished = Finished("stop", usage.model_copy(update={"cost": spec.prices.cost(usage)}))
        return {"end": run.worker.complete(task, text, finished, log.seq).value}

    def _finish(self, run: Run, spec: ModelSpec, keys: list[str], seq: int) -> dict[str, Any]:
        task = run.task()
        worker = run.worker
        outputs = []
        for index, key in enumerate(keys):
            size = worker.blobs.size(key)
            if size is None:
                raise ProviderError("provider_error", "The upstream job's output is missing", retryable=False)
            media_type = MEDIA_TYPES.get(key.rsplit(".", 1)[-1], "application/octet-stream")
            outputs.append(stored_output(task, index, key, task.kind.value, media_type, size))
        log = run.log(seq, "finish")
        for index, output in enumerate(outputs):
            log.add({"type": "output", "index": index, "file_type": output.file_type, "size": output.size})
        log.flush_pending()
        config = worker.stored_request(task).get("config") or {}
        seconds = float(config.get("duration") or 0) * len(outputs)
        return {"end": worker.complete_media(task, spec, outputs, seconds, log.seq).value}
