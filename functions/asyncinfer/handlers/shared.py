"""What every JSON API function shares: its settings, one TaskService per instance, the entry point."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver

from asyncinfer import wiring
from asyncinfer.config import ApiSettings
from asyncinfer.observability import logger, metrics, tracer
from asyncinfer.tasks.service import TaskService


@wiring.cached
def service() -> TaskService:
    return wiring.task_service(ApiSettings())


def entry_point(app: APIGatewayRestResolver) -> Callable[[dict, Any], dict]:
    @logger.inject_lambda_context(correlation_id_path="pathParameters.id")
    @metrics.log_metrics
    @tracer.capture_lambda_handler(capture_response=False)
    def lambda_handler(event: dict, context: Any) -> dict:
        return app.resolve(event, context)

    return lambda_handler
