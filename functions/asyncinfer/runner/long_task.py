"""Long tasks on the durable runner: a task as a sequence of checkpointed steps (docs/architecture.md,
"Long tasks").

Each model turn and each tool call is one step (runner.chat); an upstream job is started and polled in
steps (runner.jobs). A finished step never runs again: after an interruption the runtime runs the handler
from the top and answers finished steps from their checkpoints, so usage is counted once per turn and the
conversation is rebuilt exactly. A step interrupted midway runs again; what it had already written to the
event log is not written twice (runner.resumed_log).

Each invocation claims the task once (attempt + 1, a compare-and-set) before its first live step, so an
earlier invocation still running (timed out, not yet killed) can write nothing more (runner.run). When a
step ends with less time left in the invocation than a step may take, the run pauses for a second: the
runtime suspends it without compute and goes on in a fresh invocation.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from asyncinfer.domain.catalog import ModelSpec
from asyncinfer.domain.model import MEDIA_KINDS, TaskKind
from asyncinfer.domain.requests import McpServer
from asyncinfer.providers.base import JobProvider
from asyncinfer.runner.chat import ChatSteps
from asyncinfer.runner.jobs import JobSteps
from asyncinfer.runner.run import Run
from asyncinfer.runner.steps import RunnerConfig, StepGaveUp, Steps
from asyncinfer.tasks.worker import Worker
from asyncinfer.tools.base import ToolHost


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
        self._chats = ChatSteps(tools_for)
        self._jobs = JobSteps(jobs_for)

    def run(self, tenant: str, task_id: str, steps: Steps) -> str:
        run = Run(self.worker, self.config, tenant, task_id, steps)
        # Everything a replay's path depends on comes from checkpoints: read outside a step, a task purged
        # between two invocations would send the replay down another path than its checkpoints.
        begun = run.step("begin", partial(self._begin, run))
        if "end" in begun:
            return begun["end"]
        try:
            if TaskKind(begun["kind"]) in MEDIA_KINDS or begun.get("job"):
                return self._jobs.run(run, begun)
            return self._chats.run(run, begun)
        except StepGaveUp as exc:
            return run.step("fail", partial(run.fail, exc.code, exc.message))["end"]

    def _begin(self, run: Run) -> dict[str, Any]:
        """The claim, and the plan a replay follows: the task's kind, model and class; for a chat, whether it
        runs as a job upstream and whether it has tools."""
        task = run.task()
        plan: dict[str, Any] = {
            "seq": task.event_seq,
            "kind": task.kind.value,
            "model": task.model,
            "tier": task.service_tier.value,
        }
        if task.kind not in MEDIA_KINDS:
            spec, request = run.request()
            plan["job"] = self._jobs.runs_job(self.worker.registry, spec)
            plan["tools"] = self._chats.has_tools(spec, request)
        return plan
