"""A model's provider-native batch jobs, behind one interface: a batch's items sent up as one job (Bedrock batch
inference, an OpenAI-compatible server's Batches), polled by the long-task runner with waits that cost no compute,
then read back per item. The runner's orchestration is asyncinfer.runner.batch_jobs."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from asyncinfer.domain.model import Usage


@dataclass(frozen=True)
class BatchRecord:
    """One item going up: its index in the batch, and its stored chat request (OpenAI's shape)."""

    index: int
    request: dict[str, Any]


@dataclass(frozen=True)
class BatchJobState:
    state: str  # running | ended (completed, stopped, expired or partly done: read the results) | failed
    status: str  # the upstream's own word for it
    processed: int
    total: int
    error: str | None = None
    started_ms: int | None = None  # when the upstream took the job (epoch ms), where it says


@dataclass(frozen=True)
class RecordResult:
    """One item's answer (`text`, `usage`) or its error (`code`, `message`)."""

    index: int
    text: str | None = None
    finish_reason: str = "stop"
    usage: Usage | None = None
    code: str | None = None
    message: str | None = None


class BatchJobs(Protocol):
    def prepare(self, upstream_model: str, records: list[BatchRecord]) -> bytes:
        """The job's input file (JSONL)."""

    def start(self, upstream_model: str, data: bytes, input_uri: str, output_uri: str, token: str) -> dict[str, Any]:
        """Start the job on `data` (already written at `input_uri`, s3://...), its output under `output_uri`;
        `token` makes a repeated start the same job where the upstream has idempotency. Returns what poll,
        results and stop need (small: it is checkpointed and kept on the part's record)."""

    def poll(self, job: dict[str, Any]) -> BatchJobState: ...

    def results(self, job: dict[str, Any]) -> Iterator[RecordResult]:
        """The records the ended job produced, in no particular order; the items absent were not run."""

    def stop(self, job: dict[str, Any]) -> None:
        """Stop it upstream; what it produced stays readable (and is charged), the rest is not run."""
