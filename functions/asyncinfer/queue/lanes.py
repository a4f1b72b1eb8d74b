"""Task messages to the queue of their lane: one queue per class, each read by workers of its own."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from pydantic import BaseModel

from asyncinfer.queue.base import MessageQueue


class Lanes:
    """A MessageQueue that sends each task message to its lane's queue (the default one for a lane
    without a queue of its own: a deployment or test with a single tasks queue)."""

    def __init__(self, default: MessageQueue, lanes: Mapping[str, MessageQueue] | None = None) -> None:
        self.default = default
        self.lanes = dict(lanes or {})

    def queue_of(self, message: BaseModel) -> MessageQueue:
        return self.lanes.get(str(getattr(message, "lane", "")), self.default)

    def send(self, message: BaseModel) -> None:
        self.queue_of(message).send(message)

    def send_many(self, messages: Sequence[BaseModel]) -> None:
        by_queue: dict[int, tuple[MessageQueue, list[BaseModel]]] = {}
        for message in messages:
            queue = self.queue_of(message)
            by_queue.setdefault(id(queue), (queue, []))[1].append(message)
        for queue, batch in by_queue.values():
            queue.send_many(batch)
