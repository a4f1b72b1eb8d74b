"""A batch's results while it runs: the items ended so far, in the order they ended, a page at a time after a
cursor. The table stream's side records each ending before counting it (asyncinfer.tasks.batch_tracker); this
reads those records and the items' tasks, and spells each as a line of the results file with its `ended_at`."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from asyncinfer.domain.batches import item_task_id
from asyncinfer.domain.errors import InvalidRequest
from asyncinfer.domain.model import Task, TaskStatus, now_ms
from asyncinfer.domain.records import BATCH_ENDED, Batch, BatchEndpoint
from asyncinfer.store.batch_ends import BatchEnd, BatchEndStore

# While a batch runs, endings newer than this are held back: two items ending a few ms apart may be recorded out
# of order (workers' clocks, the stream's lag), and a cursor past a late one would skip it. Once the batch ended
# every ending is recorded, so none is held back.
SETTLE_MS = 3000
MAX_LIMIT = 100
_CURSOR = re.compile(r"^([0-9a-f]{32})\.([0-9]{13})\.([0-9]{6,9})$")


def cursor_of(batch_id: str, end: BatchEnd) -> str:
    return f"{batch_id}.{end.ended_ms:013d}.{end.index:06d}"


def parse_cursor(batch_id: str, cursor: str) -> tuple[int, int]:
    """(ended ms, index) of a cursor this batch's pages returned; ValueError for anything else."""
    found = _CURSOR.match(cursor)
    if found is None or found.group(1) != batch_id:
        raise ValueError(cursor)
    return int(found.group(2)), int(found.group(3))


@dataclass(frozen=True)
class PartialPage:
    lines: list[dict[str, Any]]  # results lines, each with ended_at (epoch ms)
    last: str | None  # where the next page starts (the cursor given, when this page is empty)
    has_more: bool  # more endings to read now (more may come later while the batch runs)
    ended: bool  # the batch had ended: once has_more is false, there is nothing more


@dataclass
class PartialResults:
    store: BatchEndStore
    result_of: Callable[[Task], dict[str, Any] | None]
    result_line: Callable[[str, Task | None, dict[str, Any] | None], dict[str, Any]]
    # A task's stored chat request: a /v1/responses batch's item reads as a Response object, as in its output file.
    request_of: Callable[[Task], dict[str, Any] | None] = lambda task: None
    settle_ms: int = SETTLE_MS

    def page(self, batch: Batch, *, after: str | None, limit: int, now: int | None = None) -> PartialPage:
        if not 1 <= limit <= MAX_LIMIT:
            raise InvalidRequest(f"limit must be between 1 and {MAX_LIMIT}")
        try:
            start = parse_cursor(batch.id, after) if after is not None else None
        except ValueError:
            raise InvalidRequest("after is not a last_id this batch's results returned") from None
        ended = batch.status in BATCH_ENDED
        until = None if ended else (now_ms() if now is None else now) - self.settle_ms
        ends = self.store.batch_ends(batch.tenant, batch.id, after=start, until_ms=until, limit=limit + 1)
        shown = ends[:limit]
        ids = [item_task_id(batch.id, end.index, end.round) for end in shown]  # a retried line ends once per round
        tasks = self.store.get_tasks(batch.tenant, ids) if ids else {}
        lines = [self._line(batch, end, tasks.get(task_id)) for end, task_id in zip(shown, ids, strict=True)]
        last = cursor_of(batch.id, shown[-1]) if shown else after
        return PartialPage(lines=lines, last=last, has_more=len(ends) > limit, ended=ended)

    def _line(self, batch: Batch, end: BatchEnd, task: Task | None) -> dict[str, Any]:
        response = self.result_of(task) if task is not None and task.status == TaskStatus.COMPLETED else None
        if batch.endpoint == BatchEndpoint.RESPONSES and task is not None and response is not None:
            from asyncinfer.domain import responses  # (a /v1/responses batch's alone: its models, built on first use)

            response = responses.response_object(task, self.request_of(task), response, background=False)
        custom_id = task.custom_id if task is not None and task.custom_id is not None else str(end.index)
        line = {**self.result_line(custom_id, task, response), "ended_at": end.ended_ms}
        if end.round:
            line["round"] = end.round
        return line
