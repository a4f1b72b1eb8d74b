"""The queues: tasks (to the worker), batch items (to the worker too, with a concurrency of their own, so a
batch never stands in front of anyone's task), webhook deliveries (to the sender), batch jobs (to the batch
function), each with a dead-letter queue; and where stream records the notifier gave up on go."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.nag import acknowledge
from infra.queue_plan import queue_plan


def _queue(scope: Construct, id: str, **kwargs) -> sqs.Queue:
    return sqs.Queue(scope, id, encryption=sqs.QueueEncryption.SQS_MANAGED, enforce_ssl=True, **kwargs)


class Queues(Construct):
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        worker_timeout_seconds: int,
        max_receive_count: int,
        webhook_max_attempts: int = 8,
    ) -> None:
        super().__init__(scope, id)
        keep = Duration.days(14)
        plan = queue_plan(
            worker_timeout_seconds=worker_timeout_seconds,
            max_receive_count=max_receive_count,
            webhook_max_attempts=webhook_max_attempts,
        )
        dead = {
            name: _queue(self, _construct_id(name), retention_period=keep)
            for name in dict.fromkeys(s.dead_letters for s in plan)
        }
        made = {
            spec.name: _queue(
                self,
                _construct_id(spec.name),
                visibility_timeout=Duration.seconds(spec.visibility_seconds),
                # Tasks keep SQS's default four days; batch items (a batch has 24 hours) and the rest two weeks.
                retention_period=Duration.days(4) if spec.name == "tasks" else keep,
                dead_letter_queue=sqs.DeadLetterQueue(
                    queue=dead[spec.dead_letters], max_receive_count=spec.max_receives
                ),
            )
            for spec in plan
        }
        self.tasks, self.batch_items, self.webhooks, self.batches = (
            made["tasks"],
            made["batch-items"],
            made["webhooks"],
            made["batches"],
        )
        # The priority and flex classes' lanes; the tasks queue is the default class's.
        self.priority_tasks, self.flex_tasks = made["tasks-priority"], made["tasks-flex"]

        self.dead_letters = dead["tasks-dlq"]
        self.webhook_dead_letters = dead["webhooks-dlq"]
        self.batch_dead_letters = dead["batches-dlq"]
        # Stream records the notifier failed on after every retry (their metadata: shard and sequence).
        self.stream_failures = _queue(self, "StreamFailures", retention_period=keep)
        acknowledge(
            self.stream_failures,
            "SQS3",
            "It is the stream event source's on-failure destination: a dead-letter queue in all but name.",
        )

    def task_lanes(self) -> tuple[sqs.Queue, ...]:
        return (self.priority_tasks, self.tasks, self.flex_tasks)

    def lane_environment(self) -> dict[str, str]:
        """Where a submitting (or re-sending) function sends each class's tasks."""
        return {
            "ASYNCINFER_QUEUE_URL": self.tasks.queue_url,
            "ASYNCINFER_PRIORITY_QUEUE_URL": self.priority_tasks.queue_url,
            "ASYNCINFER_FLEX_QUEUE_URL": self.flex_tasks.queue_url,
        }


# The constructs' ids of the queues CloudFormation already knows (renaming one would replace the queue).
_IDS = {
    "tasks": "Tasks",
    "tasks-dlq": "DeadLetters",
    "tasks-priority": "PriorityTasks",
    "tasks-flex": "FlexTasks",
    "batch-items": "BatchItems",
    "webhooks": "Webhooks",
    "webhooks-dlq": "WebhookDeadLetters",
    "batches": "Batches",
    "batches-dlq": "BatchDeadLetters",
}


def _construct_id(name: str) -> str:
    return _IDS[name]
