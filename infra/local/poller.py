"""Feeds SQS batches to a handler the way Lambda's event source mapping does, partial failures included."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from infra.local.functions import LocalFunctions

log = logging.getLogger("asyncinfer.local.poller")

BATCH_SIZE = 10


def sqs_event(messages: list[dict[str, Any]], queue_arn: str) -> dict[str, Any]:
    """The Lambda SQS event for received messages."""
    return {
        "Records": [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": m.get("Attributes", {}),
                "messageAttributes": m.get("MessageAttributes", {}),
                "md5OfBody": m["MD5OfBody"],
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": queue_arn.split(":")[3],
            }
            for m in messages
        ]
    }


class Poller:
    """`concurrency` loops, each receiving a batch and invoking the function with it, like concurrent
    Lambda instances. Messages the handler did not report as failed are deleted."""

    def __init__(
        self,
        sqs: Any,
        queue_url: str,
        queue_arn: str,
        functions: LocalFunctions,
        function: str,
        concurrency: int = 2,
        batch_size: int = BATCH_SIZE,
    ) -> None:
        self._sqs = sqs
        self._url = queue_url
        self._arn = queue_arn
        self._functions = functions
        self._function = function
        self._batch_size = batch_size
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._loop, name=f"poller-{function}-{i}", daemon=True) for i in range(concurrency)
        ]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=30)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.poll_once(wait_seconds=1)
            except Exception:
                log.exception("poller %s failed; retrying", self._function)
                self._stop.wait(1)

    def poll_once(self, wait_seconds: int = 0) -> int:
        """Receive one batch, run it, delete what succeeded. Returns how many messages were received."""
        messages = self._sqs.receive_message(
            QueueUrl=self._url,
            MaxNumberOfMessages=self._batch_size,
            WaitTimeSeconds=wait_seconds,
            MessageSystemAttributeNames=["All"],
        ).get("Messages", [])
        if not messages:
            return 0
        started = time.monotonic()
        result = self._functions.invoke(self._function, sqs_event(messages, self._arn))
        failed = {item["itemIdentifier"] for item in (result or {}).get("batchItemFailures", [])}
        done = [m for m in messages if m["MessageId"] not in failed]
        if done:
            self._sqs.delete_message_batch(
                QueueUrl=self._url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)],
            )
        log.debug("batch of %d in %.2fs, %d failed", len(messages), time.monotonic() - started, len(failed))
        return len(messages)
