"""Every JSON API function's entry point: its resolver, under the request's span, logs and metrics. Apart from
`shared` (the task service) so that the docs function, which serves no task, loads no AWS client."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from asyncinfer.observability import logger, metrics, tracing

if TYPE_CHECKING:
    from asyncinfer.surfaces.routing import Resolver


def entry_point(app: Resolver) -> Callable[[dict, Any], dict]:
    @logger.inject_lambda_context(correlation_id_path="pathParameters.id")
    @metrics.log_metrics
    @tracing.flushed
    def lambda_handler(event: dict, context: Any) -> dict:
        with tracing.request_span(event) as span:
            answer = app.resolve(event, context)
            return tracing.answered(answer, span)

    return lambda_handler
