"""The SQS consumers' backoff: a failed message comes back after a growing, jittered delay; a message that
must wait without counting as a failure comes back as a new message."""

from __future__ import annotations

from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from asyncinfer import wiring
from asyncinfer.queue.redelivery import SqsRedelivery


@wiring.cached
def redelivery() -> SqsRedelivery:
    return SqsRedelivery(wiring.client("sqs"))


def back_off(record: SQSRecord, *, base: float, cap: float, at_least: int = 0) -> None:
    receives = int(record.attributes.approximate_receive_count or 1)
    redelivery().back_off(
        record.event_source_arn, record.receipt_handle, receives, base=base, cap=cap, at_least=at_least
    )


def send_again(record: SQSRecord, delay_seconds: int) -> None:
    """The same body, as a new message on the queue it came from, delayed: a new message starts with no
    receives, so waiting never moves it towards the dead-letter queue (as failing its receive would)."""
    wiring.client("sqs").send_message(
        QueueUrl=redelivery().queue_url(record.event_source_arn), MessageBody=record.body, DelaySeconds=delay_seconds
    )
