"""Alarms that mean a task is stuck or lost (among them every queue's age), sent to one encrypted topic, and
the dashboard (infra.components.dashboard)."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.components.dashboard import Watched, dashboard
from infra.components.queues import Queues
from infra.config import InfraConfig


class Monitoring(Construct):
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        config: InfraConfig,
        queues: Queues,
        worker: lambda_.IFunction,
        dead_letter: lambda_.IFunction,
        sender: lambda_.IFunction,
        runner: lambda_.IFunction | None,
        api: apigw.RestApi,
        api_functions: dict[str, lambda_.IFunction],
    ) -> None:
        super().__init__(scope, id)
        # CloudWatch can publish to an encrypted topic only if the key's policy lets it use the key, and an
        # AWS managed key's policy (alias/aws/sns) cannot be changed: the topic needs a key of its own.
        self.key = kms.Key(
            self,
            "AlarmsKey",
            description=f"asyncinfer {config.stage}: encrypts the alarm topic",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.DESTROY,
        )
        cloudwatch = iam.ServicePrincipal("cloudwatch.amazonaws.com")
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowCloudWatchAlarmsToPublish",
                principals=[cloudwatch],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],
                # Only for this account's alarms: CloudWatch acting for another account is refused the key.
                conditions={"StringEquals": {"aws:SourceAccount": Stack.of(self).account}},
            )
        )
        self.topic = sns.Topic(
            self, "Alarms", display_name=f"asyncinfer {config.stage} alarms", enforce_ssl=True, master_key=self.key
        )
        # The topic policy (made for enforce_ssl) replaces SNS's default one: it names CloudWatch, this account's.
        self.topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowCloudWatchAlarms",
                principals=[cloudwatch],
                actions=["sns:Publish"],
                resources=[self.topic.topic_arn],
                conditions={"StringEquals": {"aws:SourceAccount": Stack.of(self).account}},
            )
        )
        if config.alarm_email:
            self.topic.add_subscription(subscriptions.EmailSubscription(config.alarm_email))
        one_minute = Duration.minutes(1)

        def waiting(queue):
            return queue.metric_approximate_number_of_messages_visible(period=one_minute, statistic=cw.Stats.MAXIMUM)

        worker_errors = worker.metric_errors(period=Duration.minutes(5), statistic=cw.Stats.SUM)
        dead_letter_errors = dead_letter.metric_errors(period=Duration.minutes(5), statistic=cw.Stats.SUM)
        server_errors = api.metric_server_error(period=Duration.minutes(5), statistic=cw.Stats.SUM)

        # name: (construct id, what it means, metric, alarm above this, periods in a row)
        alarms = {
            "DeadLetters": (
                "DeadLettersWaiting",
                "Tasks reached the dead-letter queue: a worker failed them repeatedly.",
                waiting(queues.dead_letters),
                0,
                1,
            ),
            "WorkerErrors": (
                "WorkerErrors",
                "The worker function raised (crash, timeout or out of memory).",
                worker_errors,
                0,
                1,
            ),
            "DeadLetterErrors": (
                "DeadLetterErrors",
                "The dead-letter consumer failed: dead-lettered tasks are not being marked FAILED.",
                dead_letter_errors,
                0,
                1,
            ),
            "WebhookDeadLetters": (
                "WebhookDeadLettersWaiting",
                "Webhook delivery messages kept crashing the sender: those deliveries stay pending.",
                waiting(queues.webhook_dead_letters),
                0,
                1,
            ),
            "BatchDeadLetters": (
                "BatchDeadLettersWaiting",
                "Batch jobs (or scheduled invocations) failed repeatedly: a batch's items may not all exist.",
                waiting(queues.batch_dead_letters),
                0,
                1,
            ),
            "StreamFailures": (
                "StreamFailuresWaiting",
                "The notifier gave up on table stream records: webhooks or batch counts may be missing.",
                waiting(queues.stream_failures),
                0,
                1,
            ),
            "ApiServerErrors": (
                "ApiServerErrors",
                "The API answered 5xx (5 or more in 5 minutes).",
                server_errors,
                4,
                1,
            ),
        }
        for name, (construct_id, description, queue, seconds) in age_limits(config, queues).items():
            metric = queue.metric_approximate_age_of_oldest_message(period=one_minute, statistic=cw.Stats.MAXIMUM)
            alarms[name] = (construct_id, description, metric, seconds, 3)
        self.alarms = {
            name: cw.Alarm(
                self,
                construct_id,
                alarm_description=description,
                metric=metric,
                threshold=threshold,
                comparison_operator=cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
                evaluation_periods=periods,
                treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
            )
            for name, (construct_id, description, metric, threshold, periods) in alarms.items()
        }
        for alarm in self.alarms.values():
            alarm.add_alarm_action(cw_actions.SnsAction(self.topic))
            alarm.add_ok_action(cw_actions.SnsAction(self.topic))

        watched = Watched(
            lanes={
                "priority": queues.priority_tasks,
                "default": queues.tasks,
                "flex": queues.flex_tasks,
                "batch items": queues.batch_items,
            },
            others={"webhooks": queues.webhooks, "batch jobs": queues.batches},
            dead={
                "tasks' dead letters": queues.dead_letters,
                "webhooks' dead letters": queues.webhook_dead_letters,
                "batch jobs' dead letters": queues.batch_dead_letters,
                "stream failures": queues.stream_failures,
            },
            worker=worker,
            sender=sender,
            runner=runner,
            api=api,
            api_functions=api_functions,
        )
        self.dashboard = dashboard(
            self, "Dashboard", stage=config.stage, alarms=list(self.alarms.values()), watched=watched
        )


# The webhook sender's backoff between attempts (WebhookSenderSettings' defaults): doubling from 5 s, at most an hour.
WEBHOOK_RETRY_BASE_SECONDS, WEBHOOK_RETRY_MAX_SECONDS = 5, 3600
# A batch's items may wait behind their own concurrency for hours by design; past half of a batch's 24-hour
# window they risk ending it unfinished.
BATCH_ITEMS_AGE_SECONDS = 12 * 3600
# Nothing consumes these: the operator must look before SQS drops them (14 days' retention).
UNCONSUMED_AGE_SECONDS = 7 * 86400
# The dead-letter consumer takes dead letters within a minute or two: an hour says it is stuck.
CONSUMED_DEAD_LETTER_AGE_SECONDS = 3600


def webhook_retry_seconds(attempts: int) -> int:
    """How long a delivery's message may come back after backoffs before its last attempt."""
    return sum(min(WEBHOOK_RETRY_BASE_SECONDS * 2**n, WEBHOOK_RETRY_MAX_SECONDS) for n in range(attempts))


def age_limits(config: InfraConfig, queues: Queues) -> dict[str, tuple[str, str, sqs.IQueue, int]]:
    """Every queue's age alarm: name: (construct id, what it means, queue, alarm above this many seconds)."""
    limit = config.alarm_oldest_message_seconds
    return {
        "OldestTask": (
            "OldestTaskWaiting",
            "Tasks wait in the queue longer than expected: workers are behind or failing.",
            queues.tasks,
            limit,
        ),
        "OldestPriorityTask": (
            "OldestPriorityTaskWaiting",
            "Priority-class tasks wait in their queue longer than expected: their workers are behind or failing.",
            queues.priority_tasks,
            limit,
        ),
        # Flex tasks wait under load by design (the class with the fewest workers): only a wait four
        # times as long as the others' says its workers are stuck rather than busy.
        "OldestFlexTask": (
            "OldestFlexTaskWaiting",
            "Flex-class tasks wait far longer than expected: their workers are stuck or failing.",
            queues.flex_tasks,
            4 * limit,
        ),
        "OldestBatchItem": (
            "OldestBatchItemWaiting",
            "Batch items have waited half a batch's window: batches may end with items unfinished.",
            queues.batch_items,
            max(BATCH_ITEMS_AGE_SECONDS, 4 * limit),
        ),
        # A delivery's message comes back after each failed attempt's backoff: twice its whole schedule.
        "OldestWebhook": (
            "OldestWebhookWaiting",
            "Webhook deliveries wait longer than all their retries take: the sender is behind or failing.",
            queues.webhooks,
            max(limit, 2 * webhook_retry_seconds(config.webhook_max_attempts)),
        ),
        "OldestBatchJob": (
            "OldestBatchJobWaiting",
            "Batch jobs (creating a batch's items) wait or keep failing: batches are not starting.",
            queues.batches,
            max(limit, 3600),
        ),
        "OldestDeadLetter": (
            "OldestDeadLetterWaiting",
            "Dead-lettered tasks are not being taken: the dead-letter consumer is stuck.",
            queues.dead_letters,
            CONSUMED_DEAD_LETTER_AGE_SECONDS,
        ),
        "OldestWebhookDeadLetter": (
            "OldestWebhookDeadLetterWaiting",
            "Dead-lettered deliveries are not being taken: the dead-letter consumer is stuck.",
            queues.webhook_dead_letters,
            CONSUMED_DEAD_LETTER_AGE_SECONDS,
        ),
        "OldestBatchDeadLetter": (
            "OldestBatchDeadLetterWaiting",
            "A failed batch job has waited a week for the operator: SQS drops it after 14 days.",
            queues.batch_dead_letters,
            UNCONSUMED_AGE_SECONDS,
        ),
        "OldestStreamFailure": (
            "OldestStreamFailureWaiting",
            "A failed stream record has waited a week for the operator: SQS drops it after 14 days.",
            queues.stream_failures,
            UNCONSUMED_AGE_SECONDS,
        ),
    }
