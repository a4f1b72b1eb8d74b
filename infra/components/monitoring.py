"""Alarms that mean a task is stuck or lost, sent to one encrypted topic, and a dashboard."""

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
from constructs import Construct

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

        dead_letters = waiting(queues.dead_letters)

        def oldest_in(queue):
            return queue.metric_approximate_age_of_oldest_message(period=one_minute, statistic=cw.Stats.MAXIMUM)

        oldest = oldest_in(queues.tasks)
        worker_errors = worker.metric_errors(period=Duration.minutes(5), statistic=cw.Stats.SUM)
        dead_letter_errors = dead_letter.metric_errors(period=Duration.minutes(5), statistic=cw.Stats.SUM)
        server_errors = api.metric_server_error(period=Duration.minutes(5), statistic=cw.Stats.SUM)

        # name: (construct id, what it means, metric, alarm above this, periods in a row)
        alarms = {
            "DeadLetters": (
                "DeadLettersWaiting",
                "Tasks reached the dead-letter queue: a worker failed them repeatedly.",
                dead_letters,
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
            "OldestTask": (
                "OldestTaskWaiting",
                "Tasks wait in the queue longer than expected: workers are behind or failing.",
                oldest,
                config.alarm_oldest_message_seconds,
                3,
            ),
            "OldestPriorityTask": (
                "OldestPriorityTaskWaiting",
                "Priority-class tasks wait in their queue longer than expected: their workers are behind or failing.",
                oldest_in(queues.priority_tasks),
                config.alarm_oldest_message_seconds,
                3,
            ),
            # Flex tasks wait under load by design (the class with the fewest workers): only a wait four
            # times as long as the others' says its workers are stuck rather than busy.
            "OldestFlexTask": (
                "OldestFlexTaskWaiting",
                "Flex-class tasks wait far longer than expected: their workers are stuck or failing.",
                oldest_in(queues.flex_tasks),
                4 * config.alarm_oldest_message_seconds,
                3,
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

        self.dashboard = cw.Dashboard(self, "Dashboard", dashboard_name=f"asyncinfer-{config.stage}")
        self.dashboard.add_widgets(
            cw.AlarmStatusWidget(title="Alarms", alarms=list(self.alarms.values()), width=24, height=3),
        )
        self.dashboard.add_widgets(
            cw.GraphWidget(
                title="Tasks queue",
                left=[queues.tasks.metric_approximate_number_of_messages_visible(period=one_minute)],
                right=[oldest],
                width=8,
            ),
            cw.GraphWidget(title="Dead letters", left=[dead_letters], width=8),
            cw.GraphWidget(
                title="Worker",
                left=[worker.metric_invocations(period=one_minute), worker_errors],
                right=[worker.metric_duration(period=one_minute, statistic=cw.Stats.p(90))],
                width=8,
            ),
        )
        self.dashboard.add_widgets(
            cw.GraphWidget(
                title="API requests and errors",
                left=[api.metric_count(period=one_minute)],
                right=[api.metric_client_error(period=one_minute), api.metric_server_error(period=one_minute)],
                width=12,
            ),
            cw.GraphWidget(
                title="API latency (p90)",
                left=[api.metric_latency(period=one_minute, statistic=cw.Stats.p(90))],
                right=[
                    fn.metric_duration(period=one_minute, statistic=cw.Stats.p(90), label=name)
                    for name, fn in api_functions.items()
                ],
                width=12,
            ),
        )
