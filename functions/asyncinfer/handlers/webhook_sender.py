"""Consumes the webhook queue: one signed attempt per message; a failed attempt comes back after a
jittered, growing delay until the delivery succeeds or runs out of attempts."""

from __future__ import annotations

from functools import cache

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from asyncinfer import wiring
from asyncinfer.config import WebhookSenderSettings
from asyncinfer.handlers.redelivery import back_off
from asyncinfer.observability import logger, metrics, tracer
from asyncinfer.queue.base import DeliveryMessage, parse_message
from asyncinfer.tasks.webhooks import RetryDelivery, WebhookSender

SETTINGS = WebhookSenderSettings  # the infra tests check each deployed environment against it


@cache
def sender() -> WebhookSender:
    return wiring.webhook_sender(SETTINGS())


def record_handler(record: SQSRecord) -> str:
    message = parse_message(record.body, DeliveryMessage)
    if message is None:
        logger.error("dropping malformed delivery message", extra={"message_id": record.message_id})
        return "malformed"
    try:
        outcome = sender().attempt(message)
    except RetryDelivery as retry:
        # URLs and payloads stay out of the logs: the delivery record has them, for its owner.
        logger.info("webhook attempt failed", extra={"delivery_id": message.delivery_id, "reason": str(retry)})
        metrics.add_metric(name="WebhookAttemptsFailed", unit=MetricUnit.Count, value=1)
        settings = SETTINGS()
        back_off(record, base=settings.webhook_retry_base_seconds, cap=settings.webhook_retry_max_seconds)
        raise
    metrics.add_metric(name=f"Webhooks{outcome.value.capitalize()}", unit=MetricUnit.Count, value=1)
    return outcome.value


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return process_partial_response(
        event=event,
        record_handler=record_handler,
        processor=BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False),
        context=context,
    )
