"""The worker (consumes the tasks queue) and the dead-letter consumer (marks dead-lettered tasks FAILED)."""

from __future__ import annotations

import json

from aws_cdk import Duration
from aws_cdk import aws_lambda_event_sources as sources
from constructs import Construct

from infra.components.function import Function
from infra.components.grants import grant_executions, grant_model_rights, grant_start, task_runner_environment
from infra.components.parts import StackParts
from infra.components.storage import grant_table
from infra.config import WORKER_MEMORY_MB


class Workers(Construct):
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        parts: StackParts,
    ) -> None:
        super().__init__(scope, id)
        config, table, _, queues, _ = parts.resources()
        # Each lane's slots, keyed by its queue's ARN as the event names it: the default class's is the default.
        lane_slots = {
            queues.priority_tasks.queue_arn: config.priority_worker_slots,
            queues.flex_tasks.queue_arn: config.flex_worker_slots,
            queues.batch_items.queue_arn: config.batch_worker_slots,
        }
        worker_env = {
            **task_runner_environment(parts),
            "ASYNCINFER_WORKER_SLOTS": str(config.worker_slots),
            "ASYNCINFER_WORKER_QUEUE_SLOTS": json.dumps(lane_slots),
        }
        self.worker = Function(
            self,
            "Worker",
            handler="worker",
            **parts.common,
            timeout_seconds=config.worker_timeout_seconds,
            memory_size=WORKER_MEMORY_MB,
            environment=worker_env,
        ).function
        # Batch items run beside the tasks, never in front of them: a queue and a concurrency of their own.
        self.worker.add_event_source(
            sources.SqsEventSource(
                queues.batch_items,
                batch_size=config.worker_batch_size,
                max_concurrency=config.batch_worker_max_concurrency,
                report_batch_item_failures=True,
            )
        )
        # Each class's lane has workers of its own (weighted shares): a higher class starts first under
        # any backlog of a lower one, and a lower one keeps its share of the workers.
        for lane, concurrency in (
            (queues.priority_tasks, config.priority_worker_max_concurrency),
            (queues.flex_tasks, config.flex_worker_max_concurrency),
        ):
            self.worker.add_event_source(
                sources.SqsEventSource(
                    lane,
                    batch_size=config.worker_batch_size,
                    max_concurrency=concurrency,
                    report_batch_item_failures=True,
                )
            )
        self.worker.add_event_source(
            sources.SqsEventSource(
                queues.tasks,
                batch_size=config.worker_batch_size,
                max_batching_window=Duration.seconds(config.worker_batching_window_seconds)
                if config.worker_batching_window_seconds
                else None,
                max_concurrency=config.worker_max_concurrency,
                report_batch_item_failures=True,
            )
        )
        grant_model_rights(self.worker, parts, "worker")
        if parts.runner is not None:
            # Long tasks: it starts the runner's executions (an Invoke of the runner's alias), and finds one by
            # name when another deployment started it with another payload.
            grant_start(self.worker, parts.runner)
            # ... and reads one whose task it finds unfinished (an execution that gave up fails its task).
            grant_executions(self.worker, parts.runner, "lambda:GetDurableExecution")
            # A long task over its tenant's cap waits: its message is sent again, delayed, to the queue it
            # came from (asyncinfer.tasks.long_slots).
            self.worker.add_environment("ASYNCINFER_MAX_LONG_TASKS_PER_TENANT", str(config.max_long_tasks_per_tenant))
            for queue in (*queues.task_lanes(), queues.batch_items):
                queue.grant_send_messages(self.worker)

        self.dead_letter = Function(
            self,
            "DeadLetter",
            handler="dead_letter",
            **parts.common,
            environment={"ASYNCINFER_TABLE_NAME": table.table_name},
        ).function
        self.dead_letter.add_event_source(
            sources.SqsEventSource(queues.dead_letters, batch_size=10, report_batch_item_failures=True)
        )
        # ... and webhook deliveries whose messages kept failing the sender: recorded failed (a put).
        self.dead_letter.add_event_source(
            sources.SqsEventSource(queues.webhook_dead_letters, batch_size=10, report_batch_item_failures=True)
        )
        grant_table(table, self.dead_letter, "dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:PutItem")
