"""What a task's ending sets off: the notifier reads the table's stream (only the records of tasks that
someone waits for end, by event filter), announces webhooks and counts batch items; the sender delivers
webhooks from their queue with retries."""

from __future__ import annotations

from aws_cdk import Duration, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from constructs import Construct

from asyncinfer.config import WEBHOOK_SENDER_BATCH_SIZE
from asyncinfer.store.dynamodb_stream import ENDED_FILTERS
from infra.components.function import Function
from infra.components.grants import grant_sealing
from infra.components.parts import StackParts
from infra.components.storage import grant_table
from infra.nag import acknowledge
from infra.queue_plan import WEBHOOK_SENDER_TIMEOUT_SECONDS


class Notifications(Construct):
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        parts: StackParts,
    ) -> None:
        super().__init__(scope, id)
        config, table, bucket, queues, sealing_key = parts.resources()
        common = parts.common
        self.notifier = Function(
            self,
            "Notifier",
            handler="notifier",
            timeout_seconds=120,
            environment={
                "ASYNCINFER_TABLE_NAME": table.table_name,
                "ASYNCINFER_BUCKET_NAME": bucket.bucket_name,
                "ASYNCINFER_WEBHOOK_QUEUE_URL": queues.webhooks.queue_url,
                "ASYNCINFER_RETENTION_DAYS": str(config.retention_days),
            },
            **common,
        ).function
        self.notifier.add_event_source(
            sources.DynamoEventSource(
                table,
                starting_position=lambda_.StartingPosition.TRIM_HORIZON,
                batch_size=100,
                filters=[lambda_.FilterCriteria.filter(pattern) for pattern in ENDED_FILTERS],
                report_batch_item_failures=True,
                bisect_batch_on_error=True,
                retry_attempts=10,
                max_record_age=Duration.days(1),
                on_failure=sources.SqsDlq(queues.stream_failures),
            )
        )
        # Announces (delivery records, the tenant's secret), counts items (an update of the batch), and
        # finishes a batch: reads its items and their results, writes the results file.
        grant_table(
            table, self.notifier, "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:BatchGetItem"
        )
        queues.webhooks.grant_send_messages(self.notifier)
        self.notifier.add_to_role_policy(
            iam.PolicyStatement(actions=["s3:GetObject"], resources=[bucket.arn_for_objects("results/*")])
        )
        self.notifier.add_to_role_policy(
            iam.PolicyStatement(
                # Multipart writes of large results files are s3:PutObject; a failed one is aborted.
                actions=["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"],
                resources=[bucket.arn_for_objects("batches/*")],
            )
        )
        bucket_arn = Stack.of(self).get_logical_id(bucket.node.default_child)
        for prefix in ("results/", "batches/"):
            acknowledge(
                self.notifier.role,
                f"IAM5[Resource::<{bucket_arn}.Arn>/{prefix}*]",
                f"Batch results are assembled from {prefix}<tenant>/...; the prefix is the narrowest fixed scope.",
            )

        sender_env = {
            "ASYNCINFER_TABLE_NAME": table.table_name,
            "ASYNCINFER_WEBHOOK_MAX_ATTEMPTS": str(config.webhook_max_attempts),
            **config.outbound_environment(),
        }
        self.sender = Function(
            self,
            "WebhookSender",
            handler="webhook_sender",
            timeout_seconds=WEBHOOK_SENDER_TIMEOUT_SECONDS,
            memory_size=256,
            environment=sender_env,
            **common,
        ).function
        self.sender.add_event_source(
            sources.SqsEventSource(
                queues.webhooks,
                batch_size=WEBHOOK_SENDER_BATCH_SIZE,
                report_batch_item_failures=True,
                max_concurrency=5,
            )
        )
        # Opens the sealed URL of each delivery, nothing else.
        grant_sealing(self.sender, sealing_key, open=("webhook",))
        # Reads a delivery and the tenant's secret; records each attempt.
        grant_table(table, self.sender, "dynamodb:GetItem", "dynamodb:PutItem")
