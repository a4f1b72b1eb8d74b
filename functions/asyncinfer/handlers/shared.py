"""What every JSON API function shares: its settings, one TaskService per instance, the entry point."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver

from asyncinfer import wiring
from asyncinfer.config import ApiSettings
from asyncinfer.observability import logger, metrics, tracing
from asyncinfer.tasks.service import TaskService


@wiring.cached
def service() -> TaskService:
    return wiring.task_service(ApiSettings())


def entry_point(app: APIGatewayRestResolver) -> Callable[[dict, Any], dict]:
    @logger.inject_lambda_context(correlation_id_path="pathParameters.id")
    @metrics.log_metrics
    @tracing.flushed
    def lambda_handler(event: dict, context: Any) -> dict:
        with tracing.request_span(event) as span:
            answer = app.resolve(event, context)
            return tracing.answered(answer, span)

    return lambda_handler
