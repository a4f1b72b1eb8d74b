"""The batch function: it makes a batch's tasks (jobs from the batch queue), and EventBridge Scheduler
invokes it with each configured schedule's batch."""

from __future__ import annotations

from aws_cdk import Duration, Stack, TimeZone
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_scheduler_targets as targets
from constructs import Construct

from infra.components.batch_jobs import has_batch_jobs
from infra.components.function import Function
from infra.components.grants import (
    batch_environment,
    escalation_environment,
    grant_batch_rights,
    grant_executions,
    grant_sealing,
    grant_start,
    grant_task_rights,
)
from infra.components.parts import StackParts
from infra.nag import acknowledge
from infra.queue_plan import BATCH_TIMEOUT_SECONDS


class Batches(Construct):
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        parts: StackParts,
        api_environment: dict[str, str],
    ) -> None:
        super().__init__(scope, id)
        config, table, bucket, queues, sealing_key = parts.resources()
        self.function = Function(
            self,
            "Batch",
            handler="batch",
            **parts.common,
            timeout_seconds=BATCH_TIMEOUT_SECONDS,
            memory_size=1024,
            # A complete_by batch's items start in flex and may move to the default or priority lane.
            environment={
                **api_environment,
                **batch_environment(config, queues),
                **escalation_environment(config),
                "ASYNCINFER_WEBHOOK_QUEUE_URL": queues.webhooks.queue_url,
            },
        ).function
        # One job at a time per batch message: making 10,000 tasks takes minutes.
        self.function.add_event_source(
            sources.SqsEventSource(queues.batches, batch_size=1, report_batch_item_failures=True, max_concurrency=5)
        )
        # It submits tasks exactly as the API does, and reads and writes batches as api_batches does.
        grant_task_rights(self.function, "batch", table=table, bucket=bucket, queues=queues, sealing_key=sealing_key)
        if parts.runner is not None:
            grant_executions(self.function, parts.runner, "lambda:StopDurableExecution")
            if has_batch_jobs(parts):
                # It starts the runner's execution of each part sent up as a provider batch job.
                grant_start(self.function, parts.runner)
        # It opens the sealed lines of a batch's input to make its items (and seals them again for each).
        grant_sealing(self.function, sealing_key, open=("mcp", "webhook"))
        grant_batch_rights(self.function, config, table=table, bucket=bucket, queues=queues)
        # Only the batch function queues batch items.
        queues.batch_items.grant_send_messages(self.function)
        queues.webhooks.grant_send_messages(self.function)  # `batch.escalated` (complete_by)
        self.schedules: dict[str, scheduler.Schedule] = {}
        schedules = config.schedules().schedules
        if not schedules:
            return
        # The schedules' role may invoke this function only (and send a failed invocation to the DLQ).
        role = iam.Role(
            self,
            "SchedulerRole",
            assumed_by=iam.ServicePrincipal(
                "scheduler.amazonaws.com", conditions={"StringEquals": {"aws:SourceAccount": Stack.of(self).account}}
            ),
        )
        acknowledge(
            role,
            f"IAM5[Resource::<{Stack.of(self).get_logical_id(self.function.node.default_child)}.Arn>:*]",
            "Scheduler's Lambda target grant covers the batch function and its versions; nothing else.",
        )
        for item in schedules:
            self.schedules[item.name] = scheduler.Schedule(
                self,
                f"Schedule-{item.name}",
                description=item.description or f"asyncinfer scheduled batch {item.name}",
                schedule=scheduler.ScheduleExpression.expression(item.expression, TimeZone.of(item.timezone)),
                enabled=item.enabled,
                target=targets.LambdaInvoke(
                    self.function,
                    input=scheduler.ScheduleTargetInput.from_object(item.invocation()),
                    retry_attempts=3,
                    max_event_age=Duration.hours(1),
                    dead_letter_queue=queues.batch_dead_letters,
                    role=role,
                ),
            )
