"""The rights of provider-native batch jobs (asyncinfer.runner.batch_jobs), given to the runner when the registry
has a model with batch jobs: the parts' objects (`batches/<tenant>/<id>/upstream/<part>/...`: the part's record,
the job's input, the job kept, the output) and the items' batched reads. For Bedrock batch inference
(https://docs.aws.amazon.com/bedrock/latest/userguide/batch-inference-permissions.html): the service role the jobs
run as (trusted by bedrock.amazonaws.com from this account's jobs only, reading and writing the parts' objects
only), and the runner's CreateModelInvocationJob, GetModelInvocationJob, StopModelInvocationJob and iam:PassRole
of that role (and of any role the registry names) to Bedrock alone. No `aws:ResourceOrgID` condition: the same
page warns that organisation conditions break batch inference."""

from __future__ import annotations

from aws_cdk import Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from asyncinfer.domain.catalog import LOCAL
from infra.components.parts import StackParts
from infra.components.storage import grant_table
from infra.nag import acknowledge

UPSTREAM = "batches/*/upstream/*"
INPUT = "batches/*/input.jsonl"
BEDROCK = "bedrock.amazonaws.com"


def grant_batch_jobs(scope: Construct, runner: lambda_.Function, parts: StackParts) -> iam.Role | None:
    """The rights above; the service role, when a Bedrock model of the registry has batch jobs."""
    config, table, bucket, queues, _ = parts.resources()
    registry = config.registry()
    batched = [spec for spec in registry.models.values() if registry.batch_api(spec) is not None]
    if not batched:
        return None
    # The items a job did not answer run on demand: queued in the batch-items lane (asyncinfer.tasks.provider_parts).
    queues.batch_items.grant_send_messages(runner)
    runner.add_environment("ASYNCINFER_BATCH_ITEMS_QUEUE_URL", queues.batch_items.queue_url)
    # A `complete_by` part's waiting items move to the default or priority class's lane when the job would end too
    # late, and its batch.escalated is queued for delivery (asyncinfer.tasks.batch_escalation); the lanes' capacity
    # decides when and where.
    escalation = {"QUEUE_URL": queues.tasks, "PRIORITY_QUEUE_URL": queues.priority_tasks}
    for name, queue in {**escalation, "WEBHOOK_QUEUE_URL": queues.webhooks}.items():
        queue.grant_send_messages(runner)
        runner.add_environment(f"ASYNCINFER_{name}", queue.queue_url)
    slots = config.lane_slots_environment()
    for name, value in {**slots, "ASYNCINFER_RETENTION_DAYS": str(config.retention_days)}.items():
        runner.add_environment(name, value)
    upstream = bucket.arn_for_objects(UPSTREAM)
    runner.add_to_role_policy(iam.PolicyStatement(actions=["s3:GetObject", "s3:PutObject"], resources=[upstream]))
    bucket_arn = f"<{Stack.of(scope).get_logical_id(bucket.node.default_child)}.Arn>"
    by_batch = "A part's objects live under batches/<tenant>/<batch id>/upstream/<part>/: known only at run time."
    acknowledge(runner.role, f"IAM5[Resource::{bucket_arn}/{UPSTREAM}]", by_batch)
    # Items it hands back to run on demand first hold their on-demand price, which the batch's input keeps.
    runner.add_to_role_policy(iam.PolicyStatement(actions=["s3:GetObject"], resources=[bucket.arn_for_objects(INPUT)]))
    by_input = "A batch's input lives at batches/<tenant>/<batch id>/input.jsonl: known only at run time."
    acknowledge(runner.role, f"IAM5[Resource::{bucket_arn}/{INPUT}]", by_input)
    # A part's items are read 100 at a time.
    grant_table(table, runner, "dynamodb:BatchGetItem")
    bedrock = [s for s in batched if s.provider != LOCAL and s.batch is not None and s.batch.api == "bedrock"]
    if not bedrock:
        return None
    stack = Stack.of(scope)
    jobs = f"arn:{stack.partition}:bedrock:{stack.region}:{stack.account}:model-invocation-job/*"
    role = iam.Role(
        scope,
        "BatchInferenceRole",
        description="Bedrock batch inference jobs of asyncinfer: read a part's input, write its output",
        assumed_by=iam.ServicePrincipal(BEDROCK).with_conditions(
            {"StringEquals": {"aws:SourceAccount": stack.account}, "ArnLike": {"aws:SourceArn": jobs}}
        ),
    )
    role.add_to_policy(iam.PolicyStatement(actions=["s3:GetObject", "s3:PutObject"], resources=[upstream]))
    role.add_to_policy(
        iam.PolicyStatement(
            actions=["s3:ListBucket"],
            resources=[bucket.bucket_arn],
            conditions={"StringLike": {"s3:prefix": "batches/*"}},
        )
    )
    models = sorted({f"arn:{stack.partition}:bedrock:{stack.region}::foundation-model/{s.upstream}" for s in bedrock})
    runner.add_to_role_policy(
        iam.PolicyStatement(
            actions=[
                "bedrock:CreateModelInvocationJob",
                "bedrock:GetModelInvocationJob",
                "bedrock:StopModelInvocationJob",
            ],
            resources=[jobs, *models],
        )
    )
    named = sorted({s.batch.role_arn for s in bedrock if s.batch is not None and s.batch.role_arn})
    runner.add_to_role_policy(
        iam.PolicyStatement(
            actions=["iam:PassRole"],
            resources=[role.role_arn, *named],
            conditions={"StringEquals": {"iam:PassedToService": BEDROCK}},
        )
    )
    runner.add_environment("ASYNCINFER_BATCH_ROLE_ARN", role.role_arn)
    acknowledge(role, f"IAM5[Resource::{bucket_arn}/{UPSTREAM}]", by_batch)
    acknowledge(
        runner.role,
        "IAM5[Resource::arn:<AWS::Partition>:bedrock:<AWS::Region>:<AWS::AccountId>:model-invocation-job/*]",
        "Bedrock names batch jobs by a random id; a job's ARN is only known once it is created.",
    )
    return role


def has_batch_jobs(parts: StackParts) -> bool:
    """Whether the registry has a model with batch jobs: the batch function then starts parts on the runner."""
    registry = parts.resources()[0].registry()
    return any(registry.batch_api(spec) is not None for spec in registry.models.values())
