"""`complete_by`: the time by which a batch (or a single task) wants every item done, as cheaply as possible
(asyncinfer.domain.escalation). Given as an RFC 3339 time with its offset
(https://www.rfc-editor.org/rfc/rfc3339), epoch seconds, or `+<duration>` from the request's arrival."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from asyncinfer.domain.batches import window_ms
from asyncinfer.domain.deadlines import parse_duration
from asyncinfer.domain.errors import InvalidRequest

MIN_AHEAD_MS = 1000
MAX_AHEAD_MS = 7 * 86400 * 1000
# An integer below this is not a plausible epoch time (2001-09-09): most likely a duration meant as one.
MIN_EPOCH_SECONDS = 1_000_000_000
FIELD = "complete_by"
TIER_CONFLICT = "complete_by chooses the service class; leave service_tier (and priority) out"


def _epoch_ms(value: Any) -> int:
    if isinstance(value, bool):
        raise InvalidRequest(f"{FIELD} must be a time (RFC 3339), epoch seconds or +<duration> such as +90m")
    if isinstance(value, int):
        if value < MIN_EPOCH_SECONDS:
            raise InvalidRequest(f"{FIELD} as a number is epoch seconds; write +{value}s for a duration")
        return value * 1000
    if not isinstance(value, str) or not value.strip():
        raise InvalidRequest(f"{FIELD} must be a time (RFC 3339), epoch seconds or +<duration> such as +90m")
    text = value.strip()
    if text.startswith("+"):
        raise AssertionError("durations are handled by parse_complete_by")
    try:
        at = datetime.fromisoformat(text.replace("z", "Z"))
    except ValueError:
        raise InvalidRequest(
            f"{FIELD} must be an RFC 3339 time such as 2026-12-07T01:00:00Z; got {text[:40]!r}"
        ) from None
    if at.tzinfo is None:
        raise InvalidRequest(f"{FIELD} must give its offset (Z or +hh:mm); got {text[:40]!r}")
    return int(at.timestamp() * 1000)


def parse_complete_by(value: Any, now_ms: int) -> int:
    """Epoch ms, floored to the whole second (so that the epoch seconds shown are exact), between a second and a week
    ahead of `now_ms`."""
    if isinstance(value, str) and value.strip().startswith("+"):
        at = now_ms + parse_duration(value.strip()[1:], FIELD)
    else:
        at = _epoch_ms(value)
    at -= at % 1000
    if at < now_ms + MIN_AHEAD_MS:
        raise InvalidRequest(f"{FIELD} must be at least 1s ahead; it is past or too close")
    if at > now_ms + MAX_AHEAD_MS:
        raise InvalidRequest(f"{FIELD} must be at most 168h ahead")
    return at


def check_no_tier(body: dict[str, Any]) -> None:
    """A request or batch line with `complete_by` may not also choose its class (only `auto` is neutral)."""
    named = body.get("service_tier")
    if (named is not None and named != "auto") or body.get("priority") not in (None, 0):
        raise InvalidRequest(TIER_CONFLICT)


def batch_complete_by(value: Any, now_ms: int, window: str | None) -> int | None:
    """A batch's `complete_by` (None when not given): the completion window, when given, stays the hard end, so the
    target may not lie after it."""
    if value is None:
        return None
    at = parse_complete_by(value, now_ms)
    if window is not None and at > now_ms + window_ms(window):
        raise InvalidRequest(f"{FIELD} is after the completion window ends ({window} from now)")
    return at


def check_lines(bodies: Iterable[Any], complete_by: int | None) -> None:
    """A batch's lines: none sets its own `complete_by` (the batch's is every item's), and with one, none chooses
    its own class."""
    for n, body in enumerate(bodies):
        if not isinstance(body, dict):
            continue
        if body.get(FIELD) is not None:
            raise InvalidRequest(f"requests[{n}].body.{FIELD}: set {FIELD} on the batch, not on its lines")
        if complete_by is None:
            continue
        try:
            check_no_tier(body)
        except InvalidRequest as exc:
            raise InvalidRequest(f"requests[{n}].body: {exc.message}") from None


def submit_fields(body: dict[str, Any], now_ms: int) -> dict[str, Any]:
    """A single submit's `complete_by`, as the fields of its task: none when not given."""
    value = body.get(FIELD)
    if value is None:
        return {}
    check_no_tier(body)
    return {FIELD: parse_complete_by(value, now_ms)}


def seconds(ms: int | None) -> int | None:
    """A `complete_by` (or escalation) time as the answers show it: epoch seconds, exact since it is floored."""
    return None if ms is None else ms // 1000
