"""The table stream's side of a batch: counting its items as they end, and finishing it."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

from asyncinfer.blobs.base import BlobStore, batch_file_key, results_key
from asyncinfer.domain import anthropic_messages, responses
from asyncinfer.domain.batches import ANTHROPIC_RESULTS, item_task_id
from asyncinfer.domain.model import Task, TaskStatus, now_ms
from asyncinfer.domain.records import BATCH_ENDED, Batch, BatchEndpoint, BatchStatus
from asyncinfer.store.base import BatchChanged
from asyncinfer.store.batch_ends import BatchEnd, BatchEndStore
from asyncinfer.tasks.batch_retry import latest_rounds
from asyncinfer.tasks.payloads import Payloads
from asyncinfer.tasks.webhooks import Webhooks

T = TypeVar("T")

# Finishing a batch: items fetched (one BatchGetItem page) and their results read (threads) at a time.
FINISH_CHUNK = 100
FINISH_READERS = 16


def enumerate_chunks(items: Iterable[T], size: int) -> Iterator[tuple[int, list[T]]]:
    """(index of the first, the chunk) for consecutive chunks of `size` items."""
    first, chunk = 0, []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield first, chunk
            first, chunk = first + size, []
    if chunk:
        yield first, chunk


@dataclass
class BatchTracker:
    """The table stream's side: counts ending items, and when the last one ends writes the results and
    announces the batch's end. Every step is safe to repeat."""

    store: BatchEndStore
    blobs: BlobStore
    webhooks: Webhooks
    result_of: Callable[[Task], dict[str, Any] | None]
    payloads: Payloads

    def _result_lines(self, batch: Batch) -> Iterator[bytes]:
        lines = (json.loads(line) for line in self.blobs.lines(batch.input_key) if line.strip())
        rounds = latest_rounds(self.blobs, batch) if batch.round else {}  # a retried line: its latest item
        with ThreadPoolExecutor(max_workers=FINISH_READERS) as readers:
            for first, chunk in enumerate_chunks(lines, FINISH_CHUNK):
                indexes = range(first, first + len(chunk))
                ids = [item_task_id(batch.id, index, rounds.get(index, 0)) for index in indexes]
                tasks = self.store.get_tasks(batch.tenant, ids)
                found = [tasks.get(task_id) for task_id in ids]
                results = readers.map(self._response, found)
                if batch.endpoint == BatchEndpoint.RESPONSES:
                    results = map(_response_object, chunk, found, results)
                yield b"".join(
                    json.dumps(
                        self.payloads.result_line(line["custom_id"], task, result), separators=(",", ":")
                    ).encode()
                    + b"\n"
                    for line, task, result in zip(chunk, found, results, strict=True)
                )

    def _response(self, task: Task | None) -> dict[str, Any] | None:
        return self.result_of(task) if task is not None and task.status == TaskStatus.COMPLETED else None

    def item_ended(self, task: Task) -> Batch | None:
        # Before the count: once the last item is counted, every ending is in the finishing order.
        self._record_end(task)
        batch = self.store.count_item(task)
        if batch is None:
            return None
        if batch.status not in BATCH_ENDED and batch.ended >= batch.total:
            batch = self.finish(batch)
        if batch.status in BATCH_ENDED and batch.webhook is not None:
            data, at = self.payloads.batch_data(batch), batch.ended_at or batch.updated_at
            webhook, event = batch.webhook, batch.event_type
            tp = batch.traceparent
            self.webhooks.announce(batch.tenant, webhook, event, batch.id, data, at, round=batch.round, traceparent=tp)
        return batch

    def _record_end(self, task: Task) -> None:
        """The item's place in its batch's finishing order (read by asyncinfer.tasks.batch_partial)."""
        ended_ms = task.completed_at or task.failed_at or task.cancelled_at or task.updated_at
        code = task.error.code if task.error is not None else None
        index, round = task.batch_index or 0, task.batch_round or 0
        end = BatchEnd(index=index, status=task.status.value, code=code, ended_ms=ended_ms, round=round)
        self.store.put_batch_end(task.tenant, task.batch_id or "", end, task.expires_at)

    def finish(self, batch: Batch) -> Batch:
        """Write the results file, one line per item in input order, streamed: the input is read line by
        line, items are fetched FINISH_CHUNK at a time (their results side by side), and the file goes up in
        parts, so memory stays bounded whatever the batch's size."""
        key = results_key(batch.tenant, batch.id)
        self.blobs.put_stream(key, self._result_lines(batch), "application/x-ndjson")
        changes: dict[str, Any] = {"results_key": key}
        if batch.endpoint in (BatchEndpoint.CHAT_COMPLETIONS, BatchEndpoint.EMBEDDINGS, BatchEndpoint.RESPONSES):
            changes.update(self._openai_files(batch, key))
        if batch.endpoint == BatchEndpoint.MESSAGES:
            self._anthropic_results(batch, key)
        now = now_ms()
        status = BatchStatus.CANCELLED if batch.status == BatchStatus.CANCELLING else BatchStatus.COMPLETED
        if status == BatchStatus.COMPLETED and batch.expired:
            status = BatchStatus.EXPIRED
        try:
            return self.store.update_batch(
                batch.tenant,
                batch.id,
                expect={BatchStatus.IN_PROGRESS, BatchStatus.CANCELLING},
                changes={**changes, "status": status, "ended_at": now, "updated_at": now},
            )
        except BatchChanged as changed:  # finished by a concurrent item's record: same results, same key
            return changed.current or batch

    def _anthropic_results(self, batch: Batch, results: str) -> None:
        """Anthropic's results JSONL (a Message, an error or `canceled` per custom_id), a pass over the results file."""
        lines = (anthropic_messages.result_line(json.loads(raw)) for raw in self.blobs.lines(results) if raw.strip())
        encoded = (json.dumps(line, separators=(",", ":")).encode() + b"\n" for line in lines)
        key = batch_file_key(batch.tenant, batch.id, ANTHROPIC_RESULTS)
        self.blobs.put_stream(key, encoded, "application/x-ndjson")

    def _openai_files(self, batch: Batch, results: str) -> dict[str, str]:
        """OpenAI's output file (the completed items) and error file (the others, `batch_expired` ones included),
        each a pass over the results file just written, in input order."""
        keys: dict[str, str] = {}
        for which, field in (("output", "output_key"), ("errors", "errors_key")):
            if which == "errors" and batch.failed + batch.cancelled + batch.expired == 0:
                continue
            key = batch_file_key(batch.tenant, batch.id, which)
            lines = (self.payloads.file_line(json.loads(raw)) for raw in self.blobs.lines(results) if raw.strip())
            chosen = (json.dumps(line, separators=(",", ":")).encode() + b"\n" for kind, line in lines if kind == which)
            self.blobs.put_stream(key, chosen, "application/x-ndjson")
            keys[field] = key
        return keys


def _response_object(line: dict[str, Any], task: Task | None, result: dict[str, Any] | None) -> dict[str, Any] | None:
    """A completed item of a /v1/responses batch as OpenAI's output line carries it: its Response object, made of
    the line's request (as its chat body) and the item's chat completion."""
    if task is None or result is None:
        return result
    request = responses.chat_body_of(line["body"], task.model, background=False)
    return responses.response_object(task, request, result, background=False)
