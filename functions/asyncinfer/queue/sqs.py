"""SQS implementation of the task queue."""

from __future__ import annotations

from typing import Any

from asyncinfer.queue.base import TaskMessage


class SqsTaskQueue:
    def __init__(self, client: Any, queue_url: str) -> None:
        self._sqs = client
        self._url = queue_url

    def send(self, message: TaskMessage) -> None:
        self._sqs.send_message(QueueUrl=self._url, MessageBody=message.model_dump_json())
