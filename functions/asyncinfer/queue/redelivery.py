"""Holding a failed SQS message back for a while instead of the queue's whole visibility timeout."""

from __future__ import annotations

import logging
from functools import cache
from typing import Any

from asyncinfer.domain.backoff import retry_delay

log = logging.getLogger(__name__)


class SqsRedelivery:
    def __init__(self, client: Any) -> None:
        self._sqs = client
        self.queue_url = cache(self._queue_url)

    def _queue_url(self, arn: str) -> str:
        _, _, _, _, account, name = arn.split(":", 5)
        return self._sqs.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)["QueueUrl"]

    def back_off(
        self, queue_arn: str, receipt_handle: str, receives: int, *, base: float, cap: float, at_least: int = 0
    ) -> None:
        """The message comes back after a jittered delay growing with its receive count (and not before
        `at_least` seconds). Best effort: without it the message returns after the visibility timeout."""
        delay = max(retry_delay(receives, base=base, cap=cap), at_least)
        try:
            self._sqs.change_message_visibility(
                QueueUrl=self.queue_url(queue_arn), ReceiptHandle=receipt_handle, VisibilityTimeout=delay
            )
        except Exception:
            log.warning("could not set the retry delay", exc_info=True)
