"""Typed domain errors. Each has a stable `code`; HTTP statuses are mapped once, in asyncinfer.surfaces.edge."""

from __future__ import annotations

from decimal import Decimal


class DomainError(Exception):
    code = "error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidRequest(DomainError):
    code = "invalid_request"


class InvalidJson(InvalidRequest):
    code = "invalid_json"


class UnknownModel(InvalidRequest):
    code = "unknown_model"


class UnknownField(InvalidRequest):
    """A field no rule allows where it was sent (in a message), or a near miss of a known one (`max_token`)."""

    code = "unknown_field"


class LongTasksUnavailable(InvalidRequest):
    """A model that runs on the long-task runner, in a deployment without one (a Region without durable
    functions): refused at submit rather than failed later."""

    code = "long_tasks_unavailable"


class LocalOnlyModel(InvalidRequest):
    """A demo model whose jobs go to a stand-in only the local stack runs (the offline video job service),
    in a deployment: refused at submit rather than failed by the upstream's AccessDenied later."""

    code = "local_only_model"


class RequestTooLarge(DomainError):
    code = "request_too_large"


class TaskNotFound(DomainError):
    code = "not_found"

    def __init__(self, message: str = "No task with that id") -> None:
        super().__init__(message)


class ServiceUnavailable(DomainError):
    """A dependency failed before the task was accepted; nothing was stored, the client may retry."""

    code = "service_unavailable"


class Conflict(DomainError):
    code = "conflict"


class IdempotencyConflict(Conflict):
    code = "idempotency_conflict"


class NameConflict(Conflict):
    code = "message_id_conflict"


class RateLimited(DomainError):
    """Over the tenant's submit rate; `retry_after` seconds until the next window."""

    code = "rate_limited"

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class TooManyInFlight(RateLimited):
    """The tenant already has its maximum of unfinished tasks."""

    code = "too_many_in_flight"


class ClassNotAllowed(DomainError):
    """A service class the tenant is not entitled to (asyncinfer.domain.tenants)."""

    code = "class_not_allowed"

    def __init__(self, message: str, *, service_tier: str) -> None:
        super().__init__(message)
        self.service_tier = service_tier


class TooManyWaiting(RateLimited):
    """The tenant already has its maximum of tasks waiting in that class."""

    code = "too_many_waiting"


class BudgetExceeded(DomainError):
    """A submit that does not fit in the tenant's spending limit for a period (asyncinfer.domain.budgets)."""

    code = "budget_exceeded"

    def __init__(
        self, message: str, *, period: str, spent: Decimal, limit: Decimal, reserved: Decimal = Decimal(0)
    ) -> None:
        super().__init__(message)
        self.period = period
        self.spent = spent
        self.limit = limit
        self.reserved = reserved
