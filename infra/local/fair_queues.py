"""SQS fair queues in the embedded emulator. On AWS a standard queue whose messages carry a MessageGroupId is
a fair queue: once a tenant (a group) holds a disproportionate share of the messages in flight, receives
favour the other tenants' messages, the quiet ones with the fewest in flight first
(https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-fair-queues.html). moto
keeps the group of a standard queue's message but ignores it, and receives in arrival order.

Here a receive from a standard queue takes, message by message, one of the group with the fewest messages in
flight (counting those it has already taken), the oldest of that group first; messages without a group are
each a group of their own. It acts at once, where AWS waits for a tenant to hold over 10 % of the queue's
messages in flight and at least 30 of them: locally the fairness is stricter, never looser."""

from __future__ import annotations

import heapq
from collections import Counter, defaultdict, deque
from typing import Any


def fair_order(visible: list[Any], in_flight: Counter[str], count: int) -> list[Any]:
    """The first `count` of `visible` (messages in arrival order, each with `group_id` and `id`) in the
    order a fair receive takes them, given each group's messages in flight."""
    groups: dict[str, deque[Any]] = defaultdict(deque)
    for message in visible:
        groups[message.group_id or f"\0{message.id}"].append(message)
    flying = Counter(in_flight)
    # (in flight, arrival of its oldest waiting message, group): the fewest in flight first, then the oldest.
    heap = [(flying[group], index, group) for index, (group, waiting) in enumerate(groups.items()) if waiting]
    heapq.heapify(heap)
    arrival = {id(message): index for index, message in enumerate(visible)}
    taken: list[Any] = []
    while heap and len(taken) < count:
        _, _, group = heapq.heappop(heap)
        waiting = groups[group]
        taken.append(waiting.popleft())
        flying[group] += 1
        if waiting:
            heapq.heappush(heap, (flying[group], arrival[id(waiting[0])], group))
    return taken


def fair_receives() -> None:
    """Patch moto's ReceiveMessage of standard queues to take messages in fair order."""
    from moto.sqs.models import SQSBackend

    if getattr(SQSBackend.receive_message, "fair", False):
        return
    receive = SQSBackend.receive_message

    def fair(self: Any, queue_name: str, count: int, *args: Any, **kwargs: Any) -> Any:
        queue = self.get_queue(queue_name)
        if not queue.fifo_queue:
            # Sends append under this lock. A delete swaps in a new list without it: the order is then made
            # in the list that was read, never written into the new one (which would bring a deleted back).
            with queue._messages_lock:
                messages = queue._messages
                visible = [m for m in messages if m.visible and not m.delayed]
                if len({m.group_id for m in visible}) > 1:
                    flying = Counter(m.group_id for m in messages if not m.visible and m.group_id)
                    first = fair_order(visible, flying, count)
                    chosen = {id(m) for m in first}
                    # moto receives in the order of its list: the chosen ones first, the rest as they were.
                    messages[:] = first + [m for m in messages if id(m) not in chosen]
        return receive(self, queue_name, count, *args, **kwargs)

    fair.fair = True  # type: ignore[attr-defined]
    SQSBackend.receive_message = fair  # type: ignore[method-assign]
