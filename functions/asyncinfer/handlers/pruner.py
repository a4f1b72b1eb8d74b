"""Scheduled daily: deletes the long-task runner's versions that nothing runs on (docs/operate/upgrades.md)."""

from __future__ import annotations

from asyncinfer.handlers.cold import cold_start

with cold_start():  # the imports: the function's cold start
    from dataclasses import asdict
    from typing import Any

    from aws_lambda_powertools.metrics import MetricUnit
    from aws_lambda_powertools.utilities.typing import LambdaContext

    from asyncinfer import wiring
    from asyncinfer.config import PrunerSettings
    from asyncinfer.observability import logger, metrics, tracing
    from asyncinfer.ops.prune import prune_versions

SETTINGS = PrunerSettings  # the infra tests check each deployed environment against it


@wiring.cached
def lambda_client() -> Any:
    return wiring.client("lambda")


@logger.inject_lambda_context
@metrics.log_metrics
@tracing.flushed
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    settings = SETTINGS()
    report = prune_versions(lambda_client(), settings.runner_function_name, keep=settings.prune_keep)
    metrics.add_metric(name="RunnerVersionsDeleted", unit=MetricUnit.Count, value=len(report.deleted))
    logger.info("prune done", extra=asdict(report))
    return {"deleted": list(report.deleted), "kept": report.kept}
