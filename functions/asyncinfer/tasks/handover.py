"""Tasks on the long-task runner: those whose model runs there, and chat tasks that outgrow the worker.

A chat turn that has not ended when the worker's invocation is about to (its deadline margin before the
end) is not failed `timeout`: the worker hands the task over to the durable runner, as it dispatches long
tasks. A streaming turn cannot be resumed midway, so the runner runs the turn again from its start; the
worker's partial output stays in the event log, followed by a `restart` event (reason `handed_over`) that
tells readers to drop it, and it is not charged (the task's `produced` is cleared with that event: like a
retried attempt, the turn run again is ours to pay; the completion charges the runner's answer). One
turn may then take the runner's invocation (15 minutes, less its deadline margin); a turn longer than
that fails `timeout` on the runner, and only an upstream background job (providers/openai_jobs.py) serves it.

The handover is marked on the task (`handed_over_at`), and from then on the task is a long task like any
other: it takes one of its tenant's long-task slots before its execution starts, and when they are all
held it waits for one (its message comes back, delayed: `WaitForSlot`) without running its turn on the
worker again, so the tenant's cap holds for handed-over tasks too. It stays IN_PROGRESS throughout (its
tenant's in-flight quota counts it once). The runner never hands a task back. A message of a handed-over
task that comes again (a duplicate, a wait, a retry) dispatches it, which starts nothing new: the execution
is named by the task. A start that fails (after boto3's retries) sends the message back like any transient
failure, and the next receive tries the start again, until its receives run out and the task fails
(`dead_lettered`).
"""

from __future__ import annotations

import logging

from asyncinfer.domain.catalog import ModelRegistry, ModelSpec
from asyncinfer.domain.deadlines import missed
from asyncinfer.domain.model import Task, TaskKind, TaskStatus, now_ms, sources_of
from asyncinfer.executions.base import ENDED, RUNNER_FAILED, Executions
from asyncinfer.store.base import ConditionFailed, TaskStore
from asyncinfer.tasks.long_slots import LongSlots
from asyncinfer.tasks.outcomes import Outcome, RetryLater, fail_unclaimed

log = logging.getLogger(__name__)
HANDED_OVER = "handed_over"


def on_runner(task: Task, spec: ModelSpec | None, registry: ModelRegistry, has_runner: bool) -> bool:
    """Whether the worker dispatches `task` instead of running it: its model runs on the runner (where there
    is one, or it can run nowhere else), or the task was handed over (its execution is on the record)."""
    if task.execution_arn is not None or task.handed_over_at is not None:
        return True
    return spec is not None and spec.runs == "durable" and (has_runner or registry.runner_only(spec))


def hand_over(
    store: TaskStore, executions: Executions | None, slots: LongSlots | None, task: Task, seq: int
) -> Outcome | None:
    """Move the claimed chat `task`, whose log ends at `seq`, to the runner; None when it cannot go (no
    runner here, not a chat, or its own deadline passed): the caller ends it as before."""
    if executions is None or task.kind != TaskKind.CHAT or missed(task, now_ms()):
        return None
    try:
        moved = store.transition(
            task.tenant,
            task.id,
            expect={TaskStatus.IN_PROGRESS},
            attempt=task.attempt,
            changes={"event_seq": seq + 1, "updated_at": now_ms(), "handed_over_at": now_ms()},
            remove=["produced"],
        )
    except ConditionFailed:
        return Outcome.ABANDONED  # cancelled (or re-claimed) meanwhile: nothing to hand over
    restart = {"type": "restart", "attempt": task.attempt + 1, "reason": HANDED_OVER}
    store.append_events(task.tenant, task.id, seq + 1, [restart], expires_at=task.expires_at)
    log.info("task %s outgrew the worker's invocation: handed over to the long-task runner", task.id)
    return dispatch(store, executions, slots, moved)


def dispatch(store: TaskStore, executions: Executions | None, slots: LongSlots | None, task: Task) -> Outcome:
    """A long task goes to the durable runner, as an execution named by the task: starting it again (a
    duplicate message, a retry) finds the same execution. The runner claims the task itself."""
    if executions is None:
        return fail_unclaimed(store, task, "long_tasks_unavailable", "This deployment has no long-task runner")
    if task.execution_arn and executions.status(task.execution_arn) in ENDED:
        # Its execution gave up (a runner that kept dying) without ending the task: it never will.
        return fail_unclaimed(store, task, RUNNER_FAILED, "The long-task runner stopped without finishing the task")
    if slots is not None and not task.execution_arn and (task.status == TaskStatus.CREATED or task.handed_over_at):
        slots.acquire(task)  # not yet started: a slot first (WaitForSlot when none is free)
    try:
        arn = executions.start(task.tenant, task.id, task.traceparent)
    except Exception as exc:
        log.warning("could not start the runner for task %s", task.id, exc_info=True)
        raise RetryLater(f"The long-task runner could not be started: {type(exc).__name__}") from exc
    if arn and task.execution_arn != arn:
        try:
            store.transition(
                task.tenant, task.id, expect=sources_of(TaskStatus.IN_PROGRESS), changes={"execution_arn": arn}
            )
        except ConditionFailed:
            executions.stop(arn)  # cancelled meanwhile: its execution must not wait on
    return Outcome.DISPATCHED
