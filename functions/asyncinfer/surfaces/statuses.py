"""Errors as HTTP statuses, and the bodies API Gateway itself answers with: what the resolver's edge
(asyncinfer.surfaces.edge) and the ASGI functions (asyncinfer.handlers.stream, api_responses) share."""

from __future__ import annotations

from asyncinfer.domain.errors import (
    BudgetExceeded,
    ClassNotAllowed,
    Conflict,
    DomainError,
    InvalidRequest,
    RateLimited,
    RequestTooLarge,
    ServiceUnavailable,
    TaskNotFound,
)

STATUS_OF: dict[type[DomainError], int] = {
    InvalidRequest: 400,
    BudgetExceeded: 402,
    ClassNotAllowed: 403,
    TaskNotFound: 404,
    Conflict: 409,
    RequestTooLarge: 413,
    ServiceUnavailable: 503,
    RateLimited: 429,
}

# The bodies API Gateway itself answers with (gateway responses); the dev server uses the same ones.
UNAUTHORIZED = {"error": {"code": "unauthorized", "message": "Missing or invalid API key"}}
ROUTE_NOT_FOUND = {"error": {"code": "route_not_found", "message": "No such route"}}


def status_for(exc: DomainError) -> int:
    for cls in type(exc).__mro__:
        if cls in STATUS_OF:
            return STATUS_OF[cls]
    return 400
