"""A media task's files: each one its model generates is stored in S3 and told in the event log as it
comes; and a stored file as reads show it (the long-task runner's upstream jobs write theirs directly)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from asyncinfer.blobs.base import BlobStore, output_key
from asyncinfer.domain.model import Output, Task, TaskKind, now_ms
from asyncinfer.providers.base import MediaFile
from asyncinfer.tasks.event_log import EventLog
from asyncinfer.tasks.metering import Meter


def store_files(
    files: Iterable[MediaFile], task: Task, blobs: BlobStore, meter: Meter, log_: EventLog, deadline: int
) -> tuple[list[Output], float] | None:
    """The files stored, and the seconds they last; None once a file ends past `deadline`."""
    outputs: list[Output] = []
    seconds = 0.0
    for index, file in enumerate(files):
        # Deterministic keys: a retried attempt overwrites its own files.
        key = output_key(task.tenant, task.id, index, file.extension)
        blobs.put(key, file.body, file.content_type)
        outputs.append(stored_output(task, index, key, file.file_type, file.content_type, len(file.body)))
        seconds += file.seconds or 0
        meter.output(images=1 if task.kind == TaskKind.IMAGE else 0, seconds=file.seconds or 0)
        log_.add({"type": "output", "index": index, "file_type": file.file_type, "size": len(file.body)})
        log_.flush()  # a heartbeat per file: a cancelled task stops here
        if now_ms() > deadline:
            return None
    return outputs, seconds


def stored_output(task: Task, index: int, key: str, file_type: str, content_type: str, size: int) -> Output:
    """A generated file of a task, as reads show it (its URL minted on each read)."""
    extension = key.rsplit(".", 1)[-1]
    return Output(
        key=key,
        file_id="file-" + hashlib.sha256(key.encode()).hexdigest()[:24],
        file_name=f"{task.id}-{index}.{extension}",
        file_type=file_type,
        content_type=content_type,
        size=size,
    )
