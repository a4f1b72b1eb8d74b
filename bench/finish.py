"""Row f: finishing a 10,000-item batch, as the notifier does when its last item ends: every item read from
the table a page at a time, the results file streamed to S3 in parts. Its time and the traced peak memory
of this process (the emulator runs in a process of its own), against the notifier's 120 s and 512 MB."""

from __future__ import annotations

import json
import time
import tracemalloc

from asyncinfer.blobs.base import input_key
from asyncinfer.blobs.s3 import S3BlobStore
from asyncinfer.domain.batches import item_task_id
from asyncinfer.domain.model import Task, TaskKind, TaskStatus, new_task_id, now_ms
from asyncinfer.domain.records import Batch, BatchEndpoint, BatchStatus
from asyncinfer.store.dynamodb import DynamoTaskStore
from asyncinfer.store.dynamodb_records import DynamoBatchStore
from asyncinfer.surfaces import openai_batches as view
from asyncinfer.surfaces import webhooks
from asyncinfer.tasks.batch_tracker import BatchTracker
from asyncinfer.tasks.payloads import Payloads
from asyncinfer.tasks.service import read_result
from bench.common import SMOKE, EmulatorProcess, Row

PAYLOADS = Payloads(webhooks.task_data, view.render, view.result_line, view.file_line)

ITEMS = 200 if SMOKE else 10_000
RESULT_CHARS = 12_000  # an answer of about 2,000 words, kept inline in the item (under 16 KiB)
TARGET_SECONDS, TARGET_MB = 120, 512


def run() -> Row:
    emulator = EmulatorProcess()
    try:
        resources = emulator.create_resources("bench-finish")
        ddb, s3 = emulator.client("dynamodb"), emulator.client("s3")
        blobs = S3BlobStore(s3, resources.bucket_name)
        tasks = DynamoTaskStore(ddb, resources.table_name)
        batches = DynamoBatchStore(ddb, resources.table_name)
        batch_id, at = new_task_id(), now_ms()
        lines = [{"custom_id": f"r{i}", "body": {"model": "demo-chat", "messages": []}} for i in range(ITEMS)]
        blobs.put(input_key("bench", batch_id), "".join(json.dumps(x) + "\n" for x in lines).encode(), "x")
        answer = {"choices": [{"index": 0, "message": {"role": "assistant", "content": "x" * RESULT_CHARS}}]}
        for index in range(ITEMS):
            tasks.create(
                Task(
                    id=item_task_id(batch_id, index),
                    tenant="bench",
                    kind=TaskKind.CHAT,
                    model="demo-chat",
                    status=TaskStatus.COMPLETED,
                    created_at=at,
                    updated_at=at,
                    completed_at=at,
                    result=answer,
                )
            )
        batch = Batch(
            id=batch_id,
            tenant="bench",
            status=BatchStatus.IN_PROGRESS,
            endpoint=BatchEndpoint.ASYNC,
            total=ITEMS,
            created_at=at,
            updated_at=at,
            input_key=input_key("bench", batch_id),
        )
        batches.create_batch(batch)
        tracker = BatchTracker(
            batches, blobs, webhooks=None, result_of=lambda task: read_result(blobs, task), payloads=PAYLOADS
        )
        tracemalloc.start()
        started = time.perf_counter()
        finished = tracker.finish(batch)
        seconds = time.perf_counter() - started
        peak_mb = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
        size_mb = s3.head_object(Bucket=resources.bucket_name, Key=finished.results_key)["ContentLength"] / 2**20
    finally:
        emulator.stop()
    return Row(
        "f. finishing a large batch",
        f"{ITEMS:,} items in {seconds:.1f} s, traced peak {peak_mb:.0f} MiB",
        f"<= {TARGET_SECONDS} s and {TARGET_MB} MB (the notifier's timeout and memory)",
        seconds <= TARGET_SECONDS and peak_mb <= TARGET_MB,
        [
            f"results file {size_mb:.0f} MiB written in parts; items read 100 at a time (BatchGetItem), "
            f"answers of {RESULT_CHARS:,} characters each, on the emulator in its own process"
        ],
    )
