"""The queues: tasks (to the worker), batch items (to the worker too, with a concurrency of their own, so a
batch never stands in front of anyone's task), webhook deliveries (to the sender), batch jobs (to the batch
function), each with a dead-letter queue; and where stream records the notifier gave up on go."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.nag import acknowledge

# The sender and the batch function's timeouts; their queues hide a message six times as long.
WEBHOOK_SENDER_TIMEOUT_SECONDS = 30
BATCH_TIMEOUT_SECONDS = 900


def _queue(scope: Construct, id: str, **kwargs) -> sqs.Queue:
    return sqs.Queue(scope, id, encryption=sqs.QueueEncryption.SQS_MANAGED, enforce_ssl=True, **kwargs)


class Queues(Construct):
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        visibility_seconds: int,
        max_receive_count: int,
        webhook_max_attempts: int = 8,
    ) -> None:
        super().__init__(scope, id)
        keep = Duration.days(14)
        self.dead_letters = _queue(self, "DeadLetters", retention_period=keep)
        self.tasks = _queue(
            self,
            "Tasks",
            visibility_timeout=Duration.seconds(visibility_seconds),
            retention_period=Duration.days(4),
            dead_letter_queue=sqs.DeadLetterQueue(queue=self.dead_letters, max_receive_count=max_receive_count),
        )
        # Batch items wait their turn here (a batch has 24 hours); dead letters go where the tasks' go.
        self.batch_items = _queue(
            self,
            "BatchItems",
            visibility_timeout=Duration.seconds(visibility_seconds),
            retention_period=keep,
            dead_letter_queue=sqs.DeadLetterQueue(queue=self.dead_letters, max_receive_count=max_receive_count),
        )
        self.webhook_dead_letters = _queue(self, "WebhookDeadLetters", retention_period=keep)
        self.webhooks = _queue(
            self,
            "Webhooks",
            visibility_timeout=Duration.seconds(6 * WEBHOOK_SENDER_TIMEOUT_SECONDS),
            retention_period=keep,
            # The sender counts attempts and records the failure; the redrive only catches a message that
            # keeps crashing it.
            dead_letter_queue=sqs.DeadLetterQueue(
                queue=self.webhook_dead_letters, max_receive_count=webhook_max_attempts + 5
            ),
        )
        self.batch_dead_letters = _queue(self, "BatchDeadLetters", retention_period=keep)
        self.batches = _queue(
            self,
            "Batches",
            visibility_timeout=Duration.seconds(6 * BATCH_TIMEOUT_SECONDS),
            retention_period=keep,
            dead_letter_queue=sqs.DeadLetterQueue(queue=self.batch_dead_letters, max_receive_count=max_receive_count),
        )
        # Stream records the notifier failed on after every retry (their metadata: shard and sequence).
        self.stream_failures = _queue(self, "StreamFailures", retention_period=keep)
        acknowledge(
            self.stream_failures,
            "SQS3",
            "It is the stream event source's on-failure destination: a dead-letter queue in all but name.",
        )
