"""The daily prune of the long-task runner's versions: each deploy retains the version it replaces (long tasks
are pinned to the version that started them), and this deletes the ones no unfinished execution uses."""

from __future__ import annotations

from aws_cdk import Duration, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from infra.components.function import Function
from infra.components.parts import StackParts
from infra.nag import acknowledge

# The newest versions kept whatever runs on them: the current one and the one before, for a rollback.
KEEP = 2


class Pruner(Construct):
    def __init__(self, scope: Construct, id: str, *, parts: StackParts, runner: lambda_.Function) -> None:
        super().__init__(scope, id)
        self.function = Function(
            self,
            "Pruner",
            handler="pruner",
            **parts.common,
            timeout_seconds=300,
            environment={"ASYNCINFER_RUNNER_FUNCTION_NAME": runner.function_name, "ASYNCINFER_PRUNE_KEEP": str(KEEP)},
        ).function
        versions = f"{runner.function_arn}:*"
        self.function.add_to_role_policy(
            iam.PolicyStatement(
                actions=["lambda:ListVersionsByFunction", "lambda:ListAliases"], resources=[runner.function_arn]
            )
        )
        # Executions are listed per version (a qualified ARN); only versions can be deleted, never the function
        # (its unqualified ARN is not granted DeleteFunction).
        self.function.add_to_role_policy(
            iam.PolicyStatement(
                actions=["lambda:ListDurableExecutionsByFunction"], resources=[runner.function_arn, versions]
            )
        )
        self.function.add_to_role_policy(iam.PolicyStatement(actions=["lambda:DeleteFunction"], resources=[versions]))
        acknowledge(
            self.function.role,
            f"IAM5[Resource::<{Stack.of(self).get_logical_id(runner.node.default_child)}.Arn>:*]",
            "The runner's versions: a version's ARN is the function's and its number, known only once published.",
        )
        self.rule = events.Rule(
            self,
            "Schedule",
            description="asyncinfer: delete the long-task runner's versions no unfinished task runs on",
            schedule=events.Schedule.rate(Duration.days(1)),
            targets=[targets.LambdaFunction(self.function, retry_attempts=0)],
        )
