"""DLQ consumer: a task whose message was dead-lettered becomes FAILED, so no client polls forever; and a
webhook delivery whose message was dead-lettered (it kept failing the sender) is recorded failed."""

from __future__ import annotations

from asyncinfer.handlers.cold import cold_start

with cold_start():  # the imports: the function's cold start
    from typing import TYPE_CHECKING

    from aws_lambda_powertools.metrics import MetricUnit

    from asyncinfer import wiring
    from asyncinfer.config import DeadLetterSettings
    from asyncinfer.handlers.event_source import partial_batch_entry_point
    from asyncinfer.observability import logger, metrics
    from asyncinfer.queue.base import DeliveryMessage, parse_message
    from asyncinfer.tasks.outcomes import fail_dead_lettered
    from asyncinfer.tasks.webhook_sending import fail_dead_lettered as fail_dead_lettered_delivery
    from asyncinfer.wiring import deliveries

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

    from asyncinfer.store.base import TaskStore, WebhookStore

SETTINGS = DeadLetterSettings  # the infra tests check each deployed environment against it


@wiring.cached
def store() -> TaskStore:
    return wiring.task_store(SETTINGS().table_name)


@wiring.cached
def webhook_store() -> WebhookStore:
    return deliveries.webhook_store(SETTINGS().table_name)


def record_handler(record: SQSRecord) -> bool:
    message = parse_message(record.body)
    if message is None:
        delivery = parse_message(record.body, DeliveryMessage)
        if delivery is not None:
            return _delivery_dead_lettered(delivery)
        logger.error("dropping malformed dead letter", extra={"message_id": record.message_id})
        return False
    failed = fail_dead_lettered(store(), message)
    if failed:
        logger.warning("task dead-lettered", extra={"task_id": message.task_id, "tenant": message.tenant})
        metrics.add_metric(name="TasksDeadLettered", unit=MetricUnit.Count, value=1)
    return failed


def _delivery_dead_lettered(message: DeliveryMessage) -> bool:
    failed = fail_dead_lettered_delivery(webhook_store(), message)
    if failed:
        logger.warning("webhook delivery dead-lettered", extra={"delivery_id": message.delivery_id})
        metrics.add_metric(name="WebhooksDeadLettered", unit=MetricUnit.Count, value=1)
    return failed


lambda_handler = partial_batch_entry_point(record_handler)
