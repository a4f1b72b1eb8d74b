"""The HTTP edge every surface shares: one resolver shape, errors mapped to statuses once, the authorized tenant,
and the one submit path (a Submission from the route's declared headers, the service's submit, counted)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any, TypeVar

from aws_lambda_powertools.metrics import MetricUnit

from asyncinfer.domain.deadlines import CANCEL_AFTER_HEADER, START_HEADER, parse_headers
from asyncinfer.domain.errors import (
    BudgetExceeded,
    DomainError,
    InvalidRequest,
    RateLimited,
    TaskNotFound,
)
from asyncinfer.domain.model import Task
from asyncinfer.domain.prefer import APPLIED_HEADER, wait_seconds
from asyncinfer.domain.submission import Submission
from asyncinfer.observability import logger, metrics
from asyncinfer.surfaces.contract import not_found_hint
from asyncinfer.surfaces.routing import APPLICATION_JSON, RequestValidationError, Resolver, Response, Router
from asyncinfer.surfaces.statuses import ROUTE_NOT_FOUND as ROUTE_NOT_FOUND
from asyncinfer.surfaces.statuses import UNAUTHORIZED as UNAUTHORIZED
from asyncinfer.surfaces.statuses import status_for
from asyncinfer.tasks.reads import TaskRead
from asyncinfer.tasks.service import TaskService
from asyncinfer.tasks.waiting import until_ended, wait_held

Made = TypeVar("Made")  # what a submit makes: a task, a batch


class Unauthenticated(DomainError):
    code = "unauthorized"


def error_response(
    status: int, code: str, message: str, headers: dict[str, str] | None = None, **details: Any
) -> Response:
    return Response(
        status_code=status,
        content_type=APPLICATION_JSON,
        body={"error": {"code": code, "message": message, **details}},
        headers=headers,
    )


def _number(value: Decimal) -> float | int:
    return int(value) if value == value.to_integral_value() else float(value)


def build_resolver() -> Resolver:
    # The resolver validates and gives the path, query and header parameters the routes declare (and a route
    # that takes a body gets it from asyncinfer.surfaces.contract's route, read strictly).
    app = Resolver()

    @app.exception_handler(RequestValidationError)
    def _invalid(exc: RequestValidationError) -> Response:
        problems = [f"{'.'.join(str(p) for p in e['loc'][1:]) or e['loc'][0]}: {e['msg']}" for e in exc.errors()]
        return error_response(400, InvalidRequest.code, "; ".join(problems[:10]))

    @app.exception_handler(Unauthenticated)
    def _unauthenticated(exc: Unauthenticated) -> Response:
        return error_response(401, UNAUTHORIZED["error"]["code"], UNAUTHORIZED["error"]["message"])

    @app.exception_handler(BudgetExceeded)
    def _budget(exc: BudgetExceeded) -> Response:
        figures = {"spent": exc.spent, "reserved": exc.reserved, "limit": exc.limit}
        return error_response(
            402, exc.code, exc.message, period=exc.period, **{k: _number(v) for k, v in figures.items()}
        )

    @app.exception_handler(RateLimited)
    def _rate_limited(exc: RateLimited) -> Response:
        return error_response(429, exc.code, exc.message, headers={"Retry-After": str(exc.retry_after)})

    @app.exception_handler(TaskNotFound)
    def _not_found_task(exc: TaskNotFound) -> Response:
        # An id of another surface's form is told where it is read (judged by its form, not by a lookup).
        event = app.current_event
        hint = not_found_hint(event.http_method, event.resource, event.path_parameters.get("id"))
        return error_response(404, exc.code, f"{exc.message}. {hint}" if hint else exc.message)

    @app.exception_handler(DomainError)
    def _domain(exc: DomainError) -> Response:
        return error_response(status_for(exc), exc.code, exc.message)

    @app.exception_handler(Exception)
    def _unexpected(exc: Exception) -> Response:
        logger.exception("unhandled error")
        return error_response(500, "internal_error", "Something went wrong on our side; nothing was lost, retry later")

    @app.not_found
    def _not_found() -> Response:
        return error_response(404, ROUTE_NOT_FOUND["error"]["code"], ROUTE_NOT_FOUND["error"]["message"])

    return app


def build_app(*routers: Router, provide: Mapping[Callable[..., Any], Callable[..., Any]] | None = None) -> Resolver:
    """A function's resolver: its surfaces' routers, and the services their routes depend on."""
    app = build_resolver()
    for router in routers:
        app.include_router(router)
    app.dependency_overrides.update(provide or {})
    return app


def tenant_of(app: Router | Resolver) -> str:
    """The tenant the authorizer put in the request context; never anything the client sent."""
    tenant = app.current_event.authorizer.get("tenant")
    if not isinstance(tenant, str) or not tenant:
        raise Unauthenticated("No authorized tenant")
    return tenant


def submission(
    surface: str,
    idempotency_key: str | None = None,
    start_timeout: str | None = None,
    cancel_after: str | None = None,
    **given: Any,
) -> Submission:
    """How a submit came: its surface, and what its declared headers ask (an idempotency key, deadlines)."""
    asked = {START_HEADER: start_timeout, CANCEL_AFTER_HEADER: cancel_after}
    deadlines = parse_headers({name: value for name, value in asked.items() if value is not None})
    return Submission(surface=surface, idempotency_key=idempotency_key, deadlines=deadlines, **given)


def submit(
    app: Router | Resolver,
    to: Callable[[str, Any, Submission], Made],
    body: Any,
    how: Submission,
    counted: str = "TasksSubmitted",
) -> Made:
    """Every submit's one way in: the authorized tenant's body, as it came (`how`), to a service's submit (`to`);
    counted, and what it made is the correlation id of the request's log lines after it."""
    made = to(tenant_of(app), body, how)
    logger.set_correlation_id(made.id)
    metrics.add_metric(name=counted, unit=MetricUnit.Count, value=1)
    return made


def waited(
    svc: TaskService,
    task: Task,
    prefer: str | None,
    submitted: Callable[[Task], dict[str, Any]],
    finished: Callable[[TaskRead], dict[str, Any]],
) -> dict[str, Any] | Response:
    """A submit's answer: `submitted` (the surface's submit answer); with `Prefer: wait=N`, once the task ended within
    the wait, `finished` (its read, the result included), else `submitted` as the task then stands, and either way
    `Preference-Applied` saying the wait was honoured. With all the tenant's waits held, `submitted` at once."""
    seconds = wait_seconds(prefer)
    if seconds is None:
        return submitted(task)
    with wait_held(svc.store, task.tenant, seconds, svc.limits.max_waits) as held:
        if not held:
            return submitted(task)
        task = until_ended(svc.store, task, seconds)
    body = finished(svc.view(task)) if task.terminal else submitted(task)
    return Response(
        status_code=200,
        content_type=APPLICATION_JSON,
        body=body,
        headers={APPLIED_HEADER: f"wait={seconds}"},
    )
