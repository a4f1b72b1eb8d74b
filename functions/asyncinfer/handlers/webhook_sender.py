"""Consumes the webhook queue: one signed attempt per message; a failed attempt comes back after a
jittered, growing delay until the delivery succeeds or runs out of attempts. The messages of one batch are
attempted side by side, each within its own time bound, so one slow receiver delays no other delivery."""

from __future__ import annotations

from asyncinfer.handlers.cold import cold_start

with cold_start():  # the imports: the function's cold start
    import asyncio
    from concurrent.futures import ThreadPoolExecutor
    from typing import TYPE_CHECKING

    from aws_lambda_powertools.metrics import MetricUnit

    from asyncinfer import wiring
    from asyncinfer.config import WEBHOOK_SENDER_BATCH_SIZE, WebhookSenderSettings
    from asyncinfer.handlers.event_source import partial_batch_entry_point
    from asyncinfer.handlers.redelivery import back_off
    from asyncinfer.observability import logger, metrics
    from asyncinfer.queue.base import DeliveryMessage, parse_message
    from asyncinfer.tasks.webhook_sending import RetryDelivery
    from asyncinfer.wiring import deliveries

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

    from asyncinfer.tasks.webhook_sending import WebhookSender

SETTINGS = WebhookSenderSettings  # the infra tests check each deployed environment against it


@wiring.cached
def sender() -> WebhookSender:
    return deliveries.webhook_sender(SETTINGS())


@wiring.cached
def attempts() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=WEBHOOK_SENDER_BATCH_SIZE)  # a thread for each message of a batch


async def record_handler(record: SQSRecord) -> str:
    message = parse_message(record.body, DeliveryMessage)
    if message is None:
        logger.error("dropping malformed delivery message", extra={"message_id": record.message_id})
        return "malformed"
    try:
        outcome = await asyncio.get_running_loop().run_in_executor(attempts(), sender().attempt, message)
    except RetryDelivery as retry:
        # URLs and payloads stay out of the logs: the delivery record has them, for its owner.
        logger.info("webhook attempt failed", extra={"delivery_id": message.delivery_id, "reason": str(retry)})
        metrics.add_metric(name="WebhookAttemptsFailed", unit=MetricUnit.Count, value=1)
        settings = SETTINGS()
        await asyncio.to_thread(
            back_off, record, base=settings.webhook_retry_base_seconds, cap=settings.webhook_retry_max_seconds
        )
        raise
    metrics.add_metric(name=f"Webhooks{outcome.value.capitalize()}", unit=MetricUnit.Count, value=1)
    return outcome.value


lambda_handler = partial_batch_entry_point(record_handler)
