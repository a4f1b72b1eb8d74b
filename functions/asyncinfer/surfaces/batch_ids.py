"""OpenAI's Batch API spelling of a batch id, `batch_<uuid>`, without that surface's routes or answer models: the
webhooks function names batches in its deliveries and builds no batch route (asyncinfer.handlers.api_webhooks)."""

from __future__ import annotations

from asyncinfer.domain import ids
from asyncinfer.domain.errors import TaskNotFound

ID_PREFIX = "batch_"


def public_id(batch_id: str) -> str:
    return ID_PREFIX + ids.as_uuid(batch_id)


def internal_id(public: str) -> str:
    if not public.startswith(ID_PREFIX):
        raise TaskNotFound("No batch with that id")
    try:
        return ids.parse_any(public.removeprefix(ID_PREFIX))
    except TaskNotFound:
        raise TaskNotFound("No batch with that id") from None
