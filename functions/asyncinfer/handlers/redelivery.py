"""The SQS consumers' backoff: a failed message comes back after a growing, jittered delay; a message that
must wait without counting as a failure comes back as a new message."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from asyncinfer import wiring
from asyncinfer.queue.redelivery import SqsRedelivery
from asyncinfer.queue.refill import SqsLane

if TYPE_CHECKING:  # Powertools' data classes load every event source's; the worker (importing this) uses none
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

log = logging.getLogger(__name__)


@wiring.cached
def redelivery() -> SqsRedelivery:
    return SqsRedelivery(wiring.client("sqs"))


def back_off(record: SQSRecord, *, base: float, cap: float, at_least: int = 0) -> None:
    receives = int(record.attributes.approximate_receive_count or 1)
    redelivery().back_off(
        record.event_source_arn, record.receipt_handle, receives, base=base, cap=cap, at_least=at_least
    )


def lane_of(queue_arn: str) -> SqsLane | None:
    """The queue an event's records came from, to receive more from, delete, hold back and send again; None
    if its URL cannot be found (the event's messages then come back after their visibility timeout)."""
    try:
        return SqsLane(wiring.client("sqs"), redelivery().queue_url(queue_arn))
    except Exception:
        log.warning("could not find the queue of %s", queue_arn, exc_info=True)
        return None
