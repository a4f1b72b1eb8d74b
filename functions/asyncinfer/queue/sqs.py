"""SQS implementation of the queues."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel


def _group(message: BaseModel) -> dict[str, str]:
    """A tenant's message names its tenant as its group: on a standard queue that makes it a fair queue, whose receives
    favour the tenants with fewer messages in flight over one with a backlog (see docs/operate/security.md)."""
    tenant = getattr(message, "tenant", None)
    return {"MessageGroupId": tenant} if isinstance(tenant, str) and tenant else {}


class SqsQueue:
    def __init__(self, client: Any, queue_url: str) -> None:
        self._sqs = client
        self._url = queue_url

    def send(self, message: BaseModel) -> None:
        self._sqs.send_message(QueueUrl=self._url, MessageBody=message.model_dump_json(), **_group(message))

    def send_many(self, messages: Sequence[BaseModel]) -> None:
        """Ten to a call; raises if any message was not accepted (they are all safe to send again)."""
        for start in range(0, len(messages), 10):
            entries = [
                {"Id": str(i), "MessageBody": m.model_dump_json(), **_group(m)}
                for i, m in enumerate(messages[start : start + 10])
            ]
            failed = self._sqs.send_message_batch(QueueUrl=self._url, Entries=entries).get("Failed") or []
            if failed:
                raise RuntimeError(f"SQS refused {len(failed)} of {len(entries)} messages: {failed[0].get('Code')}")
