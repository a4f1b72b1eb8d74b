"""The dashboard's spend per day: every charge, counted as the store writes it (wiring.task_store hands this to
the store), summed over a day by CloudWatch."""

from __future__ import annotations

from aws_lambda_powertools.metrics import MetricUnit

from asyncinfer.domain.budgets import UsageLine
from asyncinfer.observability import metrics

SPEND_METRIC = "Spend"  # US dollars


def count_spend(line: UsageLine) -> None:
    if line.cost:
        metrics.add_metric(name=SPEND_METRIC, unit=MetricUnit.NoUnit, value=float(line.cost))
