"""The sweeper: a scheduled function that re-sends the message of tasks left CREATED by a submit that
died between its table write and SendMessage."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from asyncinfer.store.schema import INFLIGHT_INDEX
from infra.components.function import Function
from infra.components.queues import Queues
from infra.components.storage import grant_table
from infra.config import InfraConfig


class Sweeper(Construct):
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        config: InfraConfig,
        code: lambda_.Code,
        architecture: lambda_.Architecture,
        table: dynamodb.ITableV2,
        queues: Queues,
    ) -> None:
        super().__init__(scope, id)
        self.function = Function(
            self,
            "Sweeper",
            handler="sweeper",
            code=code,
            architecture=architecture,
            timeout_seconds=300,
            environment={
                "ASYNCINFER_TABLE_NAME": table.table_name,
                "ASYNCINFER_QUEUE_URL": queues.tasks.queue_url,
                "ASYNCINFER_ORPHAN_AFTER_SECONDS": str(config.orphan_after_seconds),
            },
        ).function
        # Scans only the sparse in-flight index; reads and marks the tasks it finds, and re-sends.
        grant_table(table, self.function, "dynamodb:Scan", index=INFLIGHT_INDEX)
        grant_table(table, self.function, "dynamodb:GetItem", "dynamodb:UpdateItem")
        queues.tasks.grant_send_messages(self.function)
        self.rule = events.Rule(
            self,
            "Schedule",
            description="asyncinfer: re-send the messages of orphaned CREATED tasks",
            schedule=events.Schedule.rate(Duration.minutes(config.sweep_every_minutes)),
            targets=[targets.LambdaFunction(self.function, retry_attempts=0)],
        )
