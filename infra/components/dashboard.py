"""The operator's dashboard (`asyncinfer-<stage>`): the alarms, each queue's age and depth, what is in flight,
tasks by outcome, long tasks, webhooks, spend per day, and the API. AWS's own metrics (SQS, Lambda, API
Gateway) and the functions' (Powertools metrics, namespace and service `asyncinfer`)."""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Duration
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from asyncinfer.observability import SERVICE
from asyncinfer.observability.spend import SPEND_METRIC

ONE_MINUTE = Duration.minutes(1)
FIVE_MINUTES = Duration.minutes(5)
# What the worker counts per task (asyncinfer.handlers.worker: Tasks<Outcome>), the API per submit, the
# dead-letter consumer per task it fails.
OUTCOMES = (
    "TasksSubmitted",
    "TasksCompleted",
    "TasksFailed",
    "TasksAbandoned",
    "TasksDropped",
    "TasksDispatched",
    "TasksRetried",
    "TasksWaiting",
    "TasksDeadLettered",
    "DeadlinesMissed",
)
WEBHOOK_COUNTS = ("WebhooksDelivered", "WebhooksFailed", "WebhookAttemptsFailed", "WebhooksDeadLettered")
# Lambda's metrics of a durable function's executions (docs.aws.amazon.com/lambda/latest/dg/durable-monitoring.html).
DURABLE_COUNTS = ("DurableExecutionStarted", "DurableExecutionSucceeded", "DurableExecutionFailed")
DURABLE_COUNTS += ("DurableExecutionTimedOut",)


def counted(name: str, period: Duration = FIVE_MINUTES) -> cw.Metric:
    """One of the functions' own metrics, summed."""
    return cw.Metric(
        namespace=SERVICE,
        metric_name=name,
        dimensions_map={"service": SERVICE},
        statistic=cw.Stats.SUM,
        period=period,
        label=name,
    )


@dataclass(frozen=True)
class Watched:
    """What the dashboard shows: the queues by group (name: queue), and the functions worth a graph."""

    lanes: dict[str, sqs.IQueue]  # the task lanes and batch items: the worker's queues
    others: dict[str, sqs.IQueue]  # webhook deliveries and batch jobs
    dead: dict[str, sqs.IQueue]  # dead letters and stream failures
    worker: lambda_.IFunction
    sender: lambda_.IFunction
    runner: lambda_.IFunction | None
    api: apigw.RestApi
    api_functions: dict[str, lambda_.IFunction]


def dashboard(scope: Construct, id: str, *, stage: str, alarms: list[cw.Alarm], watched: Watched) -> cw.Dashboard:
    board = cw.Dashboard(scope, id, dashboard_name=f"asyncinfer-{stage}")
    board.add_widgets(cw.AlarmStatusWidget(title="Alarms", alarms=alarms, width=24, height=2 + len(alarms) // 4))
    groups = {"Task lanes and batch items": watched.lanes, "Webhooks and batch jobs": watched.others}
    groups["Dead letters and stream failures"] = watched.dead
    board.add_widgets(
        *(
            cw.GraphWidget(
                title=f"{title}: age of the oldest message (s)",
                left=[
                    q.metric_approximate_age_of_oldest_message(period=ONE_MINUTE, statistic=cw.Stats.MAXIMUM, label=n)
                    for n, q in group.items()
                ],
                width=8,
            )
            for title, group in groups.items()
        )
    )
    board.add_widgets(
        *(
            cw.GraphWidget(
                title=f"{title}: messages waiting",
                left=[
                    q.metric_approximate_number_of_messages_visible(
                        period=ONE_MINUTE, statistic=cw.Stats.MAXIMUM, label=n
                    )
                    for n, q in group.items()
                ],
                width=8,
            )
            for title, group in groups.items()
        )
    )
    board.add_widgets(
        cw.GraphWidget(
            title="In flight: messages being worked on, and the worker's concurrency",
            left=[
                q.metric_approximate_number_of_messages_not_visible(
                    period=ONE_MINUTE, statistic=cw.Stats.MAXIMUM, label=n
                )
                for n, q in watched.lanes.items()
            ],
            right=[watched.worker.metric("ConcurrentExecutions", period=ONE_MINUTE, statistic=cw.Stats.MAXIMUM)],
            width=12,
        ),
        cw.GraphWidget(title="Tasks by outcome (per 5 minutes)", left=[counted(n) for n in OUTCOMES], width=12),
    )
    board.add_widgets(*_work(watched))
    board.add_widgets(
        cw.GraphWidget(
            title="API requests and errors",
            left=[watched.api.metric_count(period=ONE_MINUTE)],
            right=[
                watched.api.metric_client_error(period=ONE_MINUTE),
                watched.api.metric_server_error(period=ONE_MINUTE),
            ],
            width=12,
        ),
        cw.GraphWidget(
            title="API latency (p90)",
            left=[watched.api.metric_latency(period=ONE_MINUTE, statistic=cw.Stats.p(90))],
            right=[
                fn.metric_duration(period=ONE_MINUTE, statistic=cw.Stats.p(90), label=name)
                for name, fn in watched.api_functions.items()
            ],
            width=12,
        ),
    )
    return board


def _work(watched: Watched) -> list[cw.IWidget]:
    """The worker, long tasks (if the stack runs them), webhooks and spend."""
    worker = watched.worker
    widgets: list[cw.IWidget] = [
        cw.GraphWidget(
            title="Worker",
            left=[worker.metric_invocations(period=ONE_MINUTE), worker.metric_errors(period=ONE_MINUTE)],
            right=[worker.metric_duration(period=ONE_MINUTE, statistic=cw.Stats.p(90))],
            width=6,
        )
    ]
    if watched.runner is not None:
        runner = watched.runner
        widgets.append(
            cw.GraphWidget(
                title="Long tasks: durable executions and runner invocations",
                left=[runner.metric(n, period=FIVE_MINUTES, statistic=cw.Stats.SUM, label=n) for n in DURABLE_COUNTS]
                + [runner.metric_invocations(period=FIVE_MINUTES), runner.metric_errors(period=FIVE_MINUTES)],
                right=[
                    runner.metric("ApproximateRunningDurableExecutions", period=FIVE_MINUTES, statistic="Maximum"),
                    runner.metric("ConcurrentExecutions", period=FIVE_MINUTES, statistic=cw.Stats.MAXIMUM),
                ],
                width=6,
            )
        )
    widgets += [
        cw.GraphWidget(
            title="Webhooks (per 5 minutes)",
            left=[counted(n) for n in WEBHOOK_COUNTS],
            right=[watched.sender.metric_errors(period=FIVE_MINUTES, label="sender errors")],
            width=6,
        ),
        cw.GraphWidget(
            title="Spend per UTC day (US dollars)",
            left=[counted(SPEND_METRIC, Duration.days(1))],
            width=6 if watched.runner is not None else 12,
            view=cw.GraphWidgetView.BAR,
            period=Duration.days(1),
        ),
    ]
    return widgets
