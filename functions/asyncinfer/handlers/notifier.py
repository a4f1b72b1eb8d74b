"""The table stream's consumer: a task someone waits for has ended, so its webhook is announced and its
batch counts it. Failed records are retried (partial batch responses), then sent to a dead-letter queue."""

from __future__ import annotations

from asyncinfer.handlers.cold import cold_start

with cold_start():  # the imports: the function's cold start
    from typing import TYPE_CHECKING

    from aws_lambda_powertools.metrics import MetricUnit

    from asyncinfer import wiring
    from asyncinfer.config import NotifierSettings
    from asyncinfer.handlers.event_source import DYNAMODB_STREAMS, partial_batch_entry_point
    from asyncinfer.observability import logger, metrics
    from asyncinfer.store.dynamodb_stream import ended_task
    from asyncinfer.wiring import deliveries

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord

    from asyncinfer.tasks.endings import Endings

SETTINGS = NotifierSettings  # the infra tests check each deployed environment against it


@wiring.cached
def endings() -> Endings:
    return deliveries.endings(SETTINGS())


def record_handler(record: DynamoDBRecord) -> str:
    task = ended_task(record.raw_event)
    if task is None:
        return "ignored"
    logger.thread_safe_append_keys(correlation_id=task.id, tenant=task.tenant)
    try:
        endings().task_ended(task)
    finally:
        logger.thread_safe_clear_keys()
    metrics.add_metric(name="TaskEndingsHandled", unit=MetricUnit.Count, value=1)
    return task.status.value


lambda_handler = partial_batch_entry_point(record_handler, DYNAMODB_STREAMS)
