"""Scheduled: re-sends the message of tasks left CREATED by a submit that died before enqueueing, and fails
tasks past their deadlines. A second, more frequent schedule sends `{"deadlines": true}`: deadlines only."""

from __future__ import annotations

from asyncinfer.handlers.cold import cold_start

with cold_start():  # the imports: the function's cold start
    from dataclasses import asdict
    from typing import TYPE_CHECKING

    from aws_lambda_powertools.metrics import MetricUnit
    from aws_lambda_powertools.utilities.typing import LambdaContext

    from asyncinfer import wiring
    from asyncinfer.config import SweeperSettings
    from asyncinfer.observability import logger, metrics, tracing

if TYPE_CHECKING:
    from asyncinfer.tasks.sweeper import Sweeper

SETTINGS = SweeperSettings  # the infra tests check each deployed environment against it


@wiring.cached
def sweeper() -> Sweeper:
    return wiring.sweeper(SETTINGS())


@logger.inject_lambda_context
@metrics.log_metrics
@tracing.flushed
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    if event.get("deadlines") is True:
        late = sweeper().sweep_deadlines()
        metrics.add_metric(name="DeadlinesMissed", unit=MetricUnit.Count, value=late)
        return {"late": late}
    report = sweeper().sweep()
    metrics.add_metric(name="OrphansRequeued", unit=MetricUnit.Count, value=report.requeued)
    metrics.add_metric(name="DeadlinesMissed", unit=MetricUnit.Count, value=report.late)
    logger.info("sweep done", extra=asdict(report))
    return asdict(report)
