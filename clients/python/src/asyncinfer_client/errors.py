"""Typed errors, one per error code family of the API's `{"error": {"code", "message"}}` answers."""

from __future__ import annotations

from typing import Any


class APIError(Exception):
    """An error answer of the API: its HTTP status, its stable `code` and its message."""

    def __init__(self, status: int, code: str, message: str, body: Any = None) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.body = body


class InvalidRequest(APIError):
    """400: the request was refused and nothing was stored."""


class Unauthorized(APIError):
    """401: a missing or wrong API key."""


class OverBudget(APIError):
    """402: the tenant's daily or monthly budget has no room for this request. `period` (day or month),
    `spent`, `reserved` and `limit` (in the registry's currency) say where it stands."""

    def _field(self, name: str) -> Any:
        error = self.body.get("error") if isinstance(self.body, dict) else None
        return error.get(name) if isinstance(error, dict) else None

    period = property(lambda self: self._field("period"))
    spent = property(lambda self: self._field("spent"))
    reserved = property(lambda self: self._field("reserved"))
    limit = property(lambda self: self._field("limit"))


class Forbidden(APIError):
    """403: the key may not do this (a priority class the tenant is not allowed, an admin route)."""


class NotFound(APIError):
    """404: no such task for this key (another tenant's tasks are not found either)."""


class Conflict(APIError):
    """409: an idempotency key or a message id already used for another request."""


class TooLarge(APIError):
    """413: the request is larger than the API accepts."""


class RateLimited(APIError):
    """429: over a quota; `retry_after` is the server's advice, in seconds."""

    def __init__(self, status: int, code: str, message: str, body: Any = None, retry_after: float = 1.0) -> None:
        super().__init__(status, code, message, body)
        self.retry_after = retry_after


class ServiceUnavailable(APIError):
    """5xx: nothing was stored; the request may be sent again."""


class TaskFailed(Exception):
    """The task ended FAILED (or CANCELLED) where a result was asked for."""

    def __init__(self, task: dict[str, Any]) -> None:
        error = task.get("error") or {}
        super().__init__(f"task {task.get('id')} {task.get('status')}: {error.get('code')} {error.get('message')}")
        self.task = task
        self.code = error.get("code")


class WaitTimeout(Exception):
    """A wait ran out of time (on_timeout="raise"); the task goes on, and `task_id` re-attaches to it."""

    def __init__(self, task_id: str, waited: float) -> None:
        super().__init__(f"task {task_id} had not ended after {waited:g} s")
        self.task_id = task_id


BY_STATUS: dict[int, type[APIError]] = {
    400: InvalidRequest,
    401: Unauthorized,
    402: OverBudget,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    413: TooLarge,
}


def error_of(status: int, body: Any, headers: dict[str, str]) -> APIError:
    error = body.get("error") if isinstance(body, dict) else None
    code = (error or {}).get("code") or f"http_{status}"
    message = (error or {}).get("message") or str(body)[:200]
    if status == 429:
        return RateLimited(status, code, message, body, retry_after=_seconds(headers.get("retry-after")))
    if status >= 500:
        return ServiceUnavailable(status, code, message, body)
    return BY_STATUS.get(status, APIError)(status, code, message, body)


def _seconds(value: str | None) -> float:
    try:
        return max(0.0, float(value)) if value else 1.0
    except ValueError:
        return 1.0
