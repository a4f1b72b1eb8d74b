"""The sweeper: a scheduled function that re-sends the message of tasks left CREATED by a submit that
died between its table write and SendMessage, and fails tasks past their deadlines (every minute, the
shortest period of a schedule: a start deadline is kept to within a minute even behind a backlog)."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from constructs import Construct

from asyncinfer.store.schema import INFLIGHT_INDEX
from infra.components.function import Function
from infra.components.grants import escalation_environment, grant_executions
from infra.components.parts import StackParts
from infra.components.storage import grant_table


class Sweeper(Construct):
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        parts: StackParts,
    ) -> None:
        super().__init__(scope, id)
        config, table, queues = parts.config, parts.table, parts.queues
        self.function = Function(
            self,
            "Sweeper",
            handler="sweeper",
            **parts.common,
            timeout_seconds=300,
            environment={
                "ASYNCINFER_TABLE_NAME": table.table_name,
                **queues.lane_environment(),
                "ASYNCINFER_ORPHAN_AFTER_SECONDS": str(config.orphan_after_seconds),
                "ASYNCINFER_BATCH_QUEUE_URL": queues.batches.queue_url,
                "ASYNCINFER_WEBHOOK_QUEUE_URL": queues.webhooks.queue_url,
                **escalation_environment(config),
            },
        ).function
        # Scans only the sparse in-flight index; reads and marks the tasks it finds, and re-sends. Queries the
        # deadlines due (one partition of the table) and deletes the ones it saw to.
        grant_table(table, self.function, "dynamodb:Scan", index=INFLIGHT_INDEX)
        grant_table(table, self.function, "dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:Query")
        grant_table(table, self.function, "dynamodb:DeleteItem")
        # A single flex task that escalates announces `task.escalated`: its delivery record (and the tenant's
        # signing secret, made on first use) is written, then queued.
        grant_table(table, self.function, "dynamodb:PutItem")
        queues.webhooks.grant_send_messages(self.function)
        for lane in queues.task_lanes():
            lane.grant_send_messages(self.function)
        # A batch whose completion window ended: its batch job expires its unfinished items.
        queues.batches.grant_send_messages(self.function)
        if parts.runner is not None:
            # A long task whose execution ended without ending it is failed: it reads the execution.
            grant_executions(self.function, parts.runner, "lambda:GetDurableExecution")
        self.rule = events.Rule(
            self,
            "Schedule",
            description="asyncinfer: re-send the messages of orphaned CREATED tasks",
            schedule=events.Schedule.rate(Duration.minutes(config.sweep_every_minutes)),
            targets=[targets.LambdaFunction(self.function, retry_attempts=0)],
        )
        self.deadline_rule = events.Rule(
            self,
            "DeadlineSchedule",
            description="asyncinfer: fail tasks past their deadlines",
            schedule=events.Schedule.rate(Duration.minutes(1)),
            targets=[
                targets.LambdaFunction(
                    self.function, retry_attempts=0, event=events.RuleTargetInput.from_object({"deadlines": True})
                )
            ],
        )
