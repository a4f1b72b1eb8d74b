"""Task ids as the surfaces show them, and back. One task, one id; each surface spells it its own way,
and every surface accepts any spelling, so an id from one surface reads the same task on another."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable

from asyncinfer.domain.errors import InvalidRequest, TaskNotFound
from asyncinfer.domain.model import is_task_id
from asyncinfer.domain.requests import parse_limit

# A tenant's name: it is the partition key of the tenant's items and part of its S3 keys.
TENANT_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,62}$"

_UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
_FORMS = re.compile(rf"^(?:(?:task_)?({_UUID})|(?:msg_|resp_)?([0-9a-f]{{32}}))$")


def as_uuid(task_id: str) -> str:
    """`0190a5d2-…`: the Perplexity spelling, and the body of the Async API's `task_…`."""
    return str(uuid.UUID(hex=task_id))


def spells_a_task_id(value: str) -> bool:
    """Whether `value` has the form of a task id on any surface (in any letter case)."""
    return _FORMS.match(value.lower()) is not None


def parse_any(public: str) -> str:
    """The store id behind `task_<uuid>`, `<uuid>`, `msg_<32 hex>`, `resp_<32 hex>` (OpenAI Responses) or
    `<32 hex>`; anything else is simply not found (never a 400, so probing ids tells nothing)."""
    found = _FORMS.match(public)
    if not found:
        raise TaskNotFound()
    value = (found.group(1) or found.group(2)).replace("-", "")
    if not is_task_id(value):
        raise TaskNotFound()
    return value


def page(params: dict[str, str], cursor: str, decode: Callable[[str], str]) -> tuple[int, str | None]:
    """A list's `limit` and its cursor parameter (`cursor`, `next_token`), decoded to where the list goes on
    from by `decode`, which raises TaskNotFound (or ValueError) for what no list ever returned."""
    limit = parse_limit(params)
    raw = params.get(cursor) or None
    if raw is None:
        return limit, None
    try:
        return limit, decode(raw)
    except (TaskNotFound, ValueError):
        raise InvalidRequest(f"{cursor} is not a value returned by a previous list") from None


def token_page(params: dict[str, str]) -> tuple[int, str | None]:
    """`limit` and `next_token` query parameters (Perplexity's and NetMind's lists), validated."""
    return page(params, "next_token", parse_any)
