"""The blob interface: request bodies, results and media outputs."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class BlobInfo:
    key: str
    size: int
    metadata: dict[str, str] = field(default_factory=dict)
    modified_ms: int = 0


class BlobStore(Protocol):
    def put(self, key: str, body: bytes, content_type: str, metadata: dict[str, str] | None = None) -> None:
        """Write an object; `metadata` (ASCII keys and values) is kept beside it (S3 user metadata)."""
        ...

    def head(self, key: str) -> BlobInfo | None:
        """The object's size and metadata; None when there is none."""
        ...

    def keys(self, prefix: str, *, after: str | None, limit: int) -> tuple[list[str], bool]:
        """Up to `limit` keys under `prefix` in key order, from after `after`; and whether there are more."""
        ...

    def get(self, key: str) -> bytes | None: ...

    def lines(self, key: str) -> Iterator[bytes]:
        """The object's lines as they are read (never the whole object at once); nothing if it is missing."""
        ...

    def put_stream(self, key: str, chunks: Iterable[bytes], content_type: str) -> int:
        """Write an object of any size from chunks, holding at most one part in memory; its size."""
        ...

    def presigned_url(self, key: str, expires_in: int) -> str: ...

    def presigned_upload(self, key: str, expires_in: int, content_type: str, max_bytes: int) -> tuple[str, dict]:
        """A presigned POST (its URL and form fields) for one object of at most `max_bytes`."""
        ...

    def delete(self, keys: list[str]) -> None: ...

    def uri(self, key: str) -> str:
        """The s3:// URI of a key, for an upstream that writes there itself (Bedrock's async invokes)."""

    def size(self, key: str) -> int | None:
        """The object's size; None when there is none."""


def request_key(tenant: str, task_id: str) -> str:
    return f"requests/{tenant}/{task_id}.json"


def result_key(tenant: str, task_id: str) -> str:
    return f"results/{tenant}/{task_id}/result.json"


def turn_key(tenant: str, task_id: str, step: str) -> str:
    """A long task's model turn too long for its checkpoint (deleted with the task's results)."""
    return f"results/{tenant}/{task_id}/{step}.txt"


def output_prefix(tenant: str, task_id: str) -> str:
    return f"outputs/{tenant}/{task_id}/"


def output_key(tenant: str, task_id: str, index: int, extension: str) -> str:
    return f"outputs/{tenant}/{task_id}/{index}.{extension}"


def input_key(tenant: str, batch_id: str) -> str:
    return f"batches/{tenant}/{batch_id}/input.jsonl"


def results_key(tenant: str, batch_id: str) -> str:
    return f"batches/{tenant}/{batch_id}/results.jsonl"


def upload_key(tenant: str, name: str) -> str:
    return f"uploads/{tenant}/{name}.jsonl"


def round_key(tenant: str, batch_id: str, round: int) -> str:
    """The lines a batch's retry ran again in round `round` (a JSON list of item indexes)."""
    return f"batches/{tenant}/{batch_id}/round-{round}.json"


def batch_file_key(tenant: str, batch_id: str, which: str) -> str:
    """A batch's OpenAI-style output or error file (`which`: output, errors)."""
    return f"batches/{tenant}/{batch_id}/{which}.jsonl"
