"""Finishing a batch holds a page of items at a time, whatever the batch's size (fakes: no emulator's own
memory in the measurement)."""

import json
import tracemalloc
from types import SimpleNamespace

from asyncinfer.domain.batches import item_task_id
from asyncinfer.domain.model import Task, TaskKind, TaskStatus, new_task_id
from asyncinfer.surfaces import openai_batches as view
from asyncinfer.surfaces import webhooks
from asyncinfer.tasks.batch_tracker import BatchTracker
from asyncinfer.tasks.payloads import Payloads

PAYLOADS = Payloads(webhooks.task_data, view.render, view.result_line, view.file_line)

COUNT, RESULT_BYTES = 2000, 64 * 1024  # 125 MiB of results in all


class Blobs:
    def __init__(self, lines: bytes) -> None:
        self.input = lines
        self.written = 0
        self.line_count = 0

    def get(self, key):
        return self.input

    def lines(self, key):
        yield from self.input.splitlines()

    def put(self, key, body, content_type):
        self.put_stream(key, [body], content_type)

    def put_stream(self, key, chunks, content_type):
        for chunk in chunks:  # consumed as S3 would take it, nothing kept
            self.written += len(chunk)
            self.line_count += chunk.count(b"\n")
        return self.written


class Store:
    def __init__(self, batch_id: str) -> None:
        self.batch_id = batch_id

    def get_tasks(self, tenant, ids):
        return {
            i: Task(
                id=i,
                tenant=tenant,
                kind=TaskKind.CHAT,
                model="m",
                status=TaskStatus.COMPLETED,
                created_at=1,
                updated_at=1,
            )
            for i in ids
        }

    def update_batch(self, tenant, batch_id, *, expect, changes):
        return SimpleNamespace(status=changes["status"])


def test_finishing_a_batch_of_2000_items_with_125_mib_of_results_holds_a_few_mib():
    batch_id = new_task_id()
    lines = b"".join(json.dumps({"custom_id": f"r{i}", "body": {}}).encode() + b"\n" for i in range(COUNT))
    blobs = Blobs(lines)

    def result_of(task):
        return {"choices": [{"message": {"content": "x" * RESULT_BYTES}}]}

    tracker = BatchTracker(Store(batch_id), blobs, webhooks=None, result_of=result_of, payloads=PAYLOADS)
    batch = SimpleNamespace(
        id=batch_id,
        tenant="acme",
        input_key="in",
        status="in_progress",
        total=COUNT,
        ended=COUNT,
        expired=0,
        endpoint="/v1/async",
        round=0,
    )
    tracemalloc.start()
    tracker.finish(batch)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert blobs.line_count == COUNT and blobs.written > COUNT * RESULT_BYTES
    assert peak < 32 * 2**20, f"finishing held {peak / 2**20:.0f} MiB at its peak"
    assert item_task_id(batch_id, 0) != item_task_id(batch_id, 1)
