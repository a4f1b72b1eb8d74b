"""Holding a failed SQS message back for a while instead of the queue's whole visibility timeout."""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from asyncinfer import wiring
from asyncinfer.observability import logger
from asyncinfer.tasks.backoff import retry_delay


@cache
def sqs() -> Any:
    return wiring.client("sqs")


@cache
def queue_url(arn: str) -> str:
    _, _, _, _, account, name = arn.split(":", 5)
    return sqs().get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)["QueueUrl"]


def back_off(record: SQSRecord, *, base: float, cap: float, at_least: int = 0) -> None:
    """The message comes back after a jittered delay growing with its receive count (and not before
    `at_least` seconds). Best effort: without it the message returns after the visibility timeout."""
    receives = int(record.attributes.approximate_receive_count or 1)
    delay = max(retry_delay(receives, base=base, cap=cap), at_least)
    try:
        sqs().change_message_visibility(
            QueueUrl=queue_url(record.event_source_arn), ReceiptHandle=record.receipt_handle, VisibilityTimeout=delay
        )
    except Exception:
        logger.warning("could not set the retry delay", exc_info=True)
