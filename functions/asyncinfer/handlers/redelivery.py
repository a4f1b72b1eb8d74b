"""The SQS consumers' backoff: a failed message comes back after a growing, jittered delay."""

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
