"""The long-task runner: a Lambda durable function (DurableConfig), reached only through its alias.

The worker starts one execution per long task with an asynchronous Invoke of the alias, named by the task
id; durable functions are invoked by a qualified ARN only
(https://docs.aws.amazon.com/lambda/latest/dg/durable-invoking.html). No event source is attached: an
event source mapping caps a durable execution at 15 minutes and starts a new one on every retry
(https://docs.aws.amazon.com/lambda/latest/dg/durable-invoking-esm.html)."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from asyncinfer.domain.model import TaskKind
from infra.components.batch_jobs import grant_batch_jobs
from infra.components.function import Function
from infra.components.grants import executions_of, grant_model_rights, task_runner_environment
from infra.components.parts import StackParts
from infra.nag import acknowledge

# Lambda's limit for one invocation; a long task pauses (without compute) between invocations.
RUNNER_TIMEOUT_SECONDS = 900
ALIAS = "live"


class Runner(Construct):
    def __init__(self, scope: Construct, id: str, *, parts: StackParts) -> None:
        super().__init__(scope, id)
        config = parts.config
        environment = {
            **task_runner_environment(parts),
            "ASYNCINFER_STEP_BUDGET_SECONDS": str(config.runner_step_budget_seconds),
        }
        self.function = Function(
            self,
            "Runner",
            handler="runner",
            **parts.common,
            timeout_seconds=RUNNER_TIMEOUT_SECONDS,
            memory_size=1024,
            environment=environment,
            durable_config=lambda_.DurableConfig(
                execution_timeout=Duration.days(config.runner_execution_days),
                retention_period=Duration.days(config.runner_retention_days),
            ),
            # Its own bound (docs/internals/long-tasks.md): invocations beyond it are throttled, and Lambda keeps an
            # asynchronous invocation's event and tries again (invocation-async-error-handling).
            reserved_concurrency=config.runner_reserved_concurrency,
        ).function
        # A long task stays on the version that started it (up to runner_execution_days): a deploy retains the
        # version it replaces (DeletionPolicy and UpdateReplacePolicy Retain), and the pruner (infra/components/
        # pruner.py) deletes the versions nothing runs on any more.
        version = self.function.current_version
        version.apply_removal_policy(RemovalPolicy.RETAIN)
        self.alias = lambda_.Alias(self, "Live", alias_name=ALIAS, version=version)
        # Its own checkpoints (the rights of AWSLambdaBasicDurableExecutionRolePolicy, on itself only). A policy
        # of its own: the function's default policy cannot name the function, which depends on it.
        checkpoints = iam.Policy(
            self,
            "Checkpoints",
            statements=[
                iam.PolicyStatement(
                    actions=["lambda:CheckpointDurableExecution", "lambda:GetDurableExecutionState"],
                    resources=[executions_of(self.function)],
                )
            ],
        )
        checkpoints.attach_to_role(self.function.role)
        acknowledge(
            checkpoints,
            f"IAM5[Resource::<{Stack.of(self).get_logical_id(self.function.node.default_child)}.Arn>:*]",
            "Its own durable executions: their ARNs are the function's, a version and an execution id.",
        )
        # ... and read_events, when a step resumes after an interruption.
        grant_model_rights(self.function, parts, "durable", "dynamodb:Query")
        # Batch parts sent up as provider batch jobs (asyncinfer.runner.batch_jobs).
        grant_batch_jobs(self, self.function, parts)
        registry = config.registry()
        if any(registry.provider_config(s) is not None and s.kind == TaskKind.VIDEO for s in registry.models.values()):
            # Videos are Bedrock async invocations: it reads how its own jobs stand (their ARNs have no task
            # in them, so every async invocation of the account), and Bedrock writes the video into outputs/
            # with the runner's own s3:PutObject, granted above.
            stack = Stack.of(self)
            jobs = f"arn:{stack.partition}:bedrock:*:{stack.account}:async-invoke/*"
            self.function.add_to_role_policy(iam.PolicyStatement(actions=["bedrock:GetAsyncInvoke"], resources=[jobs]))
            acknowledge(
                self.function.role,
                "IAM5[Resource::arn:<AWS::Partition>:bedrock:*:<AWS::AccountId>:async-invoke/*]",
                "Bedrock names async invocations by a random id; a job's ARN is only known once it is started.",
            )
