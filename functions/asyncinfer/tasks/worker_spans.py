"""A task's own spans on the worker, in its trace (its `traceparent`, the submit's): its wait in the queue, its
claim and its run, under which its model turns and tool calls are (asyncinfer.observability.genai)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from opentelemetry.trace import Span

from asyncinfer.domain.lanes import lane_of
from asyncinfer.domain.model import Task
from asyncinfer.observability import tracing


def _named(task: Task) -> dict[str, Any]:
    return {tracing.TASK_ID: task.id, tracing.TENANT: task.tenant, tracing.KIND: task.kind.value}


@contextmanager
def claiming(task: Task) -> Iterator[Span]:
    """The claim of `task` (as read: its attempt is told once claimed)."""
    with tracing.span("claim", parent=task.traceparent, attributes=_named(task)) as current:
        yield current


def claimed(current: Span, task: Task, at_ms: int) -> None:
    """`task` was claimed at `at_ms`: its attempt, and on its first the wait since its submit, told after the fact."""
    current.set_attribute(tracing.ATTEMPT, task.attempt)
    if task.attempt == 1:
        attributes = {tracing.TASK_ID: task.id, tracing.LANE: lane_of(task)}
        start = task.created_at
        tracing.record("queue wait", parent=task.traceparent, start_ms=start, end_ms=at_ms, attributes=attributes)


@contextmanager
def running(task: Task) -> Iterator[Span]:
    """The claimed attempt's run of `task`: its model turns' and tool calls' spans are under it."""
    attributes = {**_named(task), tracing.ATTEMPT: task.attempt}
    with tracing.span("run", parent=task.traceparent, attributes=attributes) as current:
        yield current
