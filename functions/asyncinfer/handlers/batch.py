"""The batch function. EventBridge Scheduler invokes it with a schedule's batch (it submits the batch as
POST /v1/batches would); the batch queue brings it jobs (make a batch's tasks, or cancel them)."""

from __future__ import annotations

from asyncinfer.handlers.cold import cold_start

with cold_start():  # the imports: the function's cold start
    from dataclasses import asdict
    from typing import TYPE_CHECKING, Any

    from aws_lambda_powertools.metrics import MetricUnit
    from aws_lambda_powertools.utilities.typing import LambdaContext

    from asyncinfer import wiring
    from asyncinfer.config import BatchSettings
    from asyncinfer.domain.batches import ScheduledInvocation
    from asyncinfer.handlers.event_source import SQS, process
    from asyncinfer.observability import logger, metrics, tracing
    from asyncinfer.queue.base import BatchJob, parse_message

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

    from asyncinfer.tasks.batches import Batches

SETTINGS = BatchSettings  # the infra tests check each deployed environment against it


@wiring.cached
def batches() -> Batches:
    return wiring.batches(SETTINGS())


def record_handler(record: SQSRecord) -> dict:
    job = parse_message(record.body, BatchJob)
    if job is None:
        logger.error("dropping malformed batch job", extra={"message_id": record.message_id})
        return {}
    try:
        report = batches().run(job)
    except Exception:
        logger.exception("batch job failed; it will be retried", extra={"batch_id": job.batch_id})
        raise
    # Not **asdict(report): "created" is a LogRecord attribute, which logging refuses to overwrite.
    logger.info("batch job done", extra={"batch_id": job.batch_id, "report": asdict(report)})
    metrics.add_metric(name="BatchItemsCreated", unit=MetricUnit.Count, value=report.created)
    return asdict(report)


def scheduled(event: dict[str, Any]) -> dict:
    """One scheduled invocation: the schedule's batch, submitted once per scheduled time."""
    # The surface (and with it Powertools' resolver) only for this answer: the batch queue's jobs never need it.
    from asyncinfer.surfaces import openai_batches as view

    invocation = ScheduledInvocation.model_validate(event)
    # Its span stands for the request a submitted batch has: the batch's trace, which its items link to.
    with tracing.span("scheduled batch", attributes={tracing.TENANT: invocation.tenant}) as span:
        batch = batches().submit_scheduled(invocation)
        span.set_attribute(tracing.BATCH_ID, batch.id)
    logger.info("scheduled batch submitted", extra={"schedule": invocation.schedule, "batch_id": batch.id})
    metrics.add_metric(name="ScheduledBatches", unit=MetricUnit.Count, value=1)
    return view.render(batch)


@logger.inject_lambda_context
@metrics.log_metrics
@tracing.flushed
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return process(event, context, record_handler, SQS) if "Records" in event else scheduled(event)
