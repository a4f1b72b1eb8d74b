"""The queues, their dead-letter queues and redrive settings, described once: the CDK stack builds them
(infra.components.queues) and the local stack makes the same ones in the emulator (infra.local.resources).
Plain data: no CDK here, so the local stack can read it."""

from __future__ import annotations

from dataclasses import dataclass

# The sender's and the batch function's timeouts; their queues hide a message six times as long.
WEBHOOK_SENDER_TIMEOUT_SECONDS = 30
BATCH_TIMEOUT_SECONDS = 900
# The sender counts attempts and records the failure itself; the redrive only catches a message that
# keeps crashing it, a few receives after the last attempt.
WEBHOOK_SPARE_RECEIVES = 5


@dataclass(frozen=True)
class QueueSpec:
    name: str  # the queue's own name: tasks, batch-items, webhooks, batches
    dead_letters: str  # its dead-letter queue's name
    visibility_seconds: int
    max_receives: int


def queue_plan(*, worker_timeout_seconds: int, max_receive_count: int, webhook_max_attempts: int) -> list[QueueSpec]:
    # AWS's guidance for Lambda SQS consumers: a visibility timeout of at least six times the function timeout.
    worker = 6 * worker_timeout_seconds
    return [
        QueueSpec("tasks", "tasks-dlq", worker, max_receive_count),
        # The priority and flex classes' lanes (the tasks queue is the default class's), read by the worker
        # with concurrencies of their own: a class starts first by having its own workers, never by waiting.
        QueueSpec("tasks-priority", "tasks-dlq", worker, max_receive_count),
        QueueSpec("tasks-flex", "tasks-dlq", worker, max_receive_count),
        # Batch items wait their turn on a queue of their own; their dead letters go where the tasks' go.
        QueueSpec("batch-items", "tasks-dlq", worker, max_receive_count),
        QueueSpec(
            "webhooks",
            "webhooks-dlq",
            6 * WEBHOOK_SENDER_TIMEOUT_SECONDS,
            webhook_max_attempts + WEBHOOK_SPARE_RECEIVES,
        ),
        QueueSpec("batches", "batches-dlq", 6 * BATCH_TIMEOUT_SECONDS, max_receive_count),
    ]
