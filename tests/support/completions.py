"""A task store that counts each task's transitions to COMPLETED that took effect: "completed exactly once"."""

from __future__ import annotations

from collections import Counter

from asyncinfer.domain.model import TaskStatus


class CountsCompletions:
    def __init__(self, inner) -> None:
        self._inner = inner
        self.completed: Counter[str] = Counter()

    def transition(self, tenant, task_id, **kwargs):
        result = self._inner.transition(tenant, task_id, **kwargs)
        if kwargs.get("changes", {}).get("status") == TaskStatus.COMPLETED:
            self.completed[task_id] += 1
        return result

    def __getattr__(self, name):
        return getattr(self._inner, name)
