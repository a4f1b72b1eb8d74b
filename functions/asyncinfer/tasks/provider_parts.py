"""The one call that sends a part of a batch up as one provider batch job (asyncinfer.domain.batch_parts,
asyncinfer.runner.batch_jobs): the part's record, then its runner execution."""

from __future__ import annotations

import json
from typing import Protocol

from asyncinfer.blobs.base import BlobStore
from asyncinfer.domain.batch_parts import execution_name, part_event, part_prefix


class NamedExecutions(Protocol):
    def start_named(self, name: str, event: dict) -> str: ...


def start_part(
    executions: NamedExecutions, blobs: BlobStore, tenant: str, batch_id: str, part: int, model: str, indexes: list[int]
) -> str:
    """The part's record (its model and the items' indexes), then its execution; the execution's ARN. Repeating
    it is harmless: the same record, the same execution name. Its items must be CREATED and not queued."""
    record = {"model": model, "indexes": sorted(indexes)}
    blobs.put(f"{part_prefix(tenant, batch_id, part)}/part.json", json.dumps(record).encode(), "application/json")
    return executions.start_named(execution_name(batch_id, part), part_event(tenant, batch_id, part))
