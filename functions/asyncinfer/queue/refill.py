"""One lane's queue as a worker instance reads it itself between event source batches: receive, delete, hold
back and hand back its messages with the rules the event source mapping follows for the ones it delivers."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

log = logging.getLogger(__name__)

# SQS's most per ReceiveMessage and per DeleteMessageBatch.
MOST_PER_CALL = 10


@dataclass(frozen=True)
class Delivery:
    """A message as the worker runs it, whoever received it: the event source (a record) or the instance."""

    message_id: str
    receipt_handle: str
    body: str
    receives: int = 1
    group: str | None = None  # its MessageGroupId: the tenant, on a fair queue


class LaneQueue(Protocol):
    def receive(self, most: int, wait_seconds: int) -> list[Delivery]: ...

    def delete(self, handles: Sequence[str]) -> None: ...

    def hold(self, handle: str, seconds: int) -> None: ...

    def send_again(self, delivery: Delivery, delay_seconds: int) -> None: ...


class SqsLane:
    """A LaneQueue on one SQS queue."""

    def __init__(self, client: Any, queue_url: str) -> None:
        self._sqs = client
        self.url = queue_url

    def receive(self, most: int, wait_seconds: int) -> list[Delivery]:
        messages = self._sqs.receive_message(
            QueueUrl=self.url,
            MaxNumberOfMessages=max(1, min(most, MOST_PER_CALL)),
            WaitTimeSeconds=wait_seconds,
            MessageSystemAttributeNames=["ApproximateReceiveCount", "MessageGroupId"],
        ).get("Messages", [])
        return [
            Delivery(
                message_id=m["MessageId"],
                receipt_handle=m["ReceiptHandle"],
                body=m["Body"],
                receives=int(m.get("Attributes", {}).get("ApproximateReceiveCount", 1)),
                group=m.get("Attributes", {}).get("MessageGroupId"),
            )
            for m in messages
        ]

    def delete(self, handles: Sequence[str]) -> None:
        """Best effort: a message not deleted comes back after its visibility timeout, and its ended task is
        dropped then."""
        for start in range(0, len(handles), MOST_PER_CALL):
            entries = [{"Id": str(i), "ReceiptHandle": h} for i, h in enumerate(handles[start : start + MOST_PER_CALL])]
            try:
                failed = self._sqs.delete_message_batch(QueueUrl=self.url, Entries=entries).get("Failed") or []
            except Exception:
                log.warning("could not delete %d messages", len(entries), exc_info=True)
                continue
            if failed:
                log.warning("SQS kept %d of %d messages: %s", len(failed), len(entries), failed[0].get("Code"))

    def hold(self, handle: str, seconds: int) -> None:
        """The message becomes visible again after `seconds` (0: at once). Best effort, as a back-off is."""
        try:
            self._sqs.change_message_visibility(QueueUrl=self.url, ReceiptHandle=handle, VisibilityTimeout=seconds)
        except Exception:
            log.warning("could not change a message's visibility", exc_info=True)

    def send_again(self, delivery: Delivery, delay_seconds: int) -> None:
        """The same body as a new message, delayed, in the same group: a new message starts with no receives."""
        group = {"MessageGroupId": delivery.group} if delivery.group else {}
        self._sqs.send_message(QueueUrl=self.url, MessageBody=delivery.body, DelaySeconds=delay_seconds, **group)
