"""Rights more than one function needs: a task surface's, and a batch submitter's."""

from __future__ import annotations

import json

from aws_cdk import Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3

from asyncinfer.store.schema import INFLIGHT_INDEX, QUEUED_INDEX
from infra.components.parts import StackParts
from infra.components.queues import Queues
from infra.components.storage import BATCH_PREFIXES, EXPIRING_PREFIXES, grant_table
from infra.config import InfraConfig
from infra.nag import acknowledge


def grant_batch_rights(
    fn: lambda_.IFunction, config: InfraConfig, *, table: dynamodb.ITableV2, bucket: s3.IBucket, queues: Queues
) -> None:
    """What submitting and running batches takes, beyond a task surface's rights: the batch queue, the
    batch records (and reading many items at once), the batches/ and uploads/ objects, input buckets."""
    for name, value in batch_environment(config, queues).items():
        fn.add_environment(name, value)
    queues.batches.grant_send_messages(fn)
    grant_table(table, fn, "dynamodb:BatchGetItem")
    fn.add_to_role_policy(
        iam.PolicyStatement(
            actions=["s3:GetObject", "s3:PutObject"],
            resources=[bucket.arn_for_objects(f"{prefix}*") for prefix in BATCH_PREFIXES],
        )
    )
    bucket_arn = Stack.of(fn).get_logical_id(bucket.node.default_child)
    for prefix in BATCH_PREFIXES:
        acknowledge(
            fn.role,
            f"IAM5[Resource::<{bucket_arn}.Arn>/{prefix}*]",
            f"Batch inputs, results and uploads live under {prefix}<tenant>/; the prefix is the narrowest fixed scope.",
        )
    if config.batch_input_buckets:
        fn.add_to_role_policy(
            iam.PolicyStatement(
                actions=["s3:GetObject"], resources=[f"arn:aws:s3:::{name}/*" for name in config.batch_input_buckets]
            )
        )
        for name in config.batch_input_buckets:
            acknowledge(
                fn.role,
                f"IAM5[Resource::arn:aws:s3:::{name}/*]",
                "A bucket the deployment names for batch input files: any key in it may be an input.",
            )


def grant_file_rights(fn: lambda_.IFunction, bucket: s3.IBucket) -> None:
    """The Files API: list uploads (only under the batch prefixes), and delete uploads and batch files."""
    fn.add_to_role_policy(
        iam.PolicyStatement(
            actions=["s3:ListBucket"],
            resources=[bucket.bucket_arn],
            conditions={"StringLike": {"s3:prefix": [f"{prefix}*" for prefix in BATCH_PREFIXES]}},
        )
    )
    fn.add_to_role_policy(
        iam.PolicyStatement(
            actions=["s3:DeleteObject"], resources=[bucket.arn_for_objects(f"{prefix}*") for prefix in BATCH_PREFIXES]
        )
    )


def batch_environment(config: InfraConfig, queues: Queues) -> dict[str, str]:
    env = {
        "ASYNCINFER_BATCH_QUEUE_URL": queues.batches.queue_url,
        "ASYNCINFER_BATCH_ITEMS_QUEUE_URL": queues.batch_items.queue_url,
        "ASYNCINFER_MAX_BATCH_ITEMS": str(config.max_batch_items),
    }
    if config.batch_input_buckets:
        env["ASYNCINFER_BATCH_INPUT_BUCKETS"] = json.dumps(config.batch_input_buckets)
    return env


def escalation_environment(config: InfraConfig) -> dict[str, str]:
    """`complete_by`'s estimates (asyncinfer.config.EscalationSettings): each class's lane's slots, and the sweeper
    looks at due times every minute (infra.components.sweeper), so a flex escalation is set that much earlier."""
    return {**config.lane_slots_environment(), "ASYNCINFER_ESCALATION_SWEEP_SECONDS": "60"}


def grant_sealing(fn: lambda_.IFunction, key: kms.IKey, *, seal: bool = False, open: tuple[str, ...] = ()) -> None:
    """The sealing key (asyncinfer.domain.sealing): new data keys to seal client secrets with, and the opening
    of the kinds `open` names (`mcp`, `webhook`), each only under an encryption context of that use."""
    fn.add_environment("ASYNCINFER_SEALING_KEY_ID", key.key_arn)
    if seal:
        fn.add_to_role_policy(iam.PolicyStatement(actions=["kms:GenerateDataKey"], resources=[key.key_arn]))
    if open:
        fn.add_to_role_policy(
            iam.PolicyStatement(
                actions=["kms:Decrypt"],
                resources=[key.key_arn],
                conditions={"StringEquals": {"kms:EncryptionContext:use": list(open)}},
            )
        )


def grant_task_rights(
    fn: lambda_.IFunction,
    name: str,
    *,
    table: dynamodb.ITableV2,
    bucket: s3.IBucket,
    queues: Queues,
    sealing_key: kms.IKey,
) -> None:
    """What submitting, reading, cancelling and deleting tasks takes (every task surface, the batch function)."""
    # A submit seals the MCP credentials and the webhook URL it stores; it cannot open them again.
    grant_sealing(fn, sealing_key, seal=True)
    # Submit writes the task and its names, and deletes them again if the queue refuses the message.
    grant_table(
        table,
        fn,
        *("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:Query"),
    )
    # ... and counts the tenant's tasks in flight.
    grant_table(table, fn, "dynamodb:Query", index=INFLIGHT_INDEX)
    # ... and a queued task's place in its lane.
    grant_table(table, fn, "dynamodb:Query", index=QUEUED_INDEX)
    for lane in queues.task_lanes():
        lane.grant_send_messages(fn)
    # Large request bodies are written; results and outputs read (and presigned); a deleted task's
    # objects purged.
    fn.add_to_role_policy(
        iam.PolicyStatement(actions=["s3:PutObject"], resources=[bucket.arn_for_objects("requests/*")])
    )
    fn.add_to_role_policy(
        iam.PolicyStatement(
            actions=["s3:GetObject"],
            resources=[bucket.arn_for_objects("results/*"), bucket.arn_for_objects("outputs/*")],
        )
    )
    fn.add_to_role_policy(
        iam.PolicyStatement(
            actions=["s3:DeleteObject"], resources=[bucket.arn_for_objects(f"{p}*") for p in EXPIRING_PREFIXES]
        )
    )
    bucket_arn = Stack.of(fn).get_logical_id(bucket.node.default_child)
    for prefix in EXPIRING_PREFIXES:
        acknowledge(
            fn.role,
            f"IAM5[Resource::<{bucket_arn}.Arn>/{prefix}*]",
            f"{name} reads, writes or purges a task's objects under {prefix}<tenant>/<task id>; "
            "the prefix is the narrowest fixed scope.",
        )


INFERENCE_PROFILE_PREFIXES = ("us.", "eu.", "apac.", "us-gov.", "global.")


def bedrock_model_arns(registry, stack: Stack, runs: str) -> tuple[list[str], dict[str, list[str]]]:
    """The registry's Bedrock models that run where `runs` says (the worker, or the long-task runner): the ARNs
    invoked directly (foundation models, and cross-region inference profiles), and for each profile the ARNs of
    its model in every region, which may be invoked only through that profile."""
    direct: set[str] = set()
    routed: dict[str, set[str]] = {}
    for spec in registry.models.values():
        if spec.runs != runs:
            continue
        provider = registry.provider_config(spec)
        if provider is None or getattr(provider, "type", None) != "bedrock":
            continue
        region = provider.region or stack.region
        if spec.upstream.startswith(INFERENCE_PROFILE_PREFIXES):
            model = spec.upstream.split(".", 1)[1]
            profile = f"arn:aws:bedrock:{region}:{stack.account}:inference-profile/{spec.upstream}"
            direct.add(profile)
            routed.setdefault(profile, set()).add(f"arn:aws:bedrock:*::foundation-model/{model}")
        else:
            direct.add(f"arn:aws:bedrock:{region}::foundation-model/{spec.upstream}")
    return sorted(direct), {profile: sorted(arns) for profile, arns in sorted(routed.items())}


def task_runner_environment(parts: StackParts) -> dict[str, str]:
    """What a function that runs tasks (the worker, the long-task runner) is told."""
    config, table, bucket, _, _ = parts.resources()
    env = {
        "ASYNCINFER_TABLE_NAME": table.table_name,
        "ASYNCINFER_BUCKET_NAME": bucket.bucket_name,
        **config.outbound_environment(),
    }
    if config.provider_secret_arns:
        env["ASYNCINFER_PROVIDER_SECRET_ARNS"] = json.dumps(config.provider_secret_arns)
    return env


def grant_model_rights(fn: lambda_.Function, parts: StackParts, runs: str, *actions: str) -> None:
    """What running tasks takes (the worker, the long-task runner): the task records, the task objects,
    the sealed MCP credentials, the providers' secrets and the registry's Bedrock models."""
    config, table, bucket, _, sealing_key = parts.resources()
    # It opens a task's sealed MCP credentials to call its servers; nothing else.
    grant_sealing(fn, sealing_key, open=("mcp",))
    # Exactly what the worker protocol does: get, compare-and-set updates, event-log puts.
    grant_table(table, fn, "dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:PutItem", *actions)
    fn.add_to_role_policy(
        iam.PolicyStatement(
            actions=["s3:GetObject", "s3:PutObject"],
            resources=[bucket.arn_for_objects(f"{prefix}*") for prefix in EXPIRING_PREFIXES],
        )
    )
    registry = config.registry()
    secrets = sorted(set(config.provider_secret_arns) | set(registry.secret_arns()))
    if secrets:
        # Only the task runners talk to model providers; they read exactly the configured secrets.
        fn.add_to_role_policy(iam.PolicyStatement(actions=["secretsmanager:GetSecretValue"], resources=secrets))
    direct, routed = bedrock_model_arns(registry, Stack.of(fn), runs)
    invoke = ["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"]
    if direct:
        # ... and invokes exactly the Bedrock models of the registry (Converse and ConverseStream too).
        fn.add_to_role_policy(iam.PolicyStatement(actions=invoke, resources=direct))
    for profile, models in routed.items():
        # A cross-region inference profile's model, in whichever region the profile routes to: only through it.
        fn.add_to_role_policy(
            iam.PolicyStatement(
                actions=invoke,
                resources=models,
                conditions={"StringEquals": {"bedrock:InferenceProfileArn": profile}},
            )
        )
    for arn in sorted({arn for models in routed.values() for arn in models}):
        acknowledge(
            fn.role,
            f"IAM5[Resource::{arn}]",
            "A cross-region inference profile routes to its model in any of its regions; only through it.",
        )
    for prefix in EXPIRING_PREFIXES:
        acknowledge(
            fn.role,
            f"IAM5[Resource::<{Stack.of(fn).get_logical_id(bucket.node.default_child)}.Arn>/{prefix}*]",
            f"Each task's objects live under {prefix}<tenant>/<task id>; the prefix is the narrowest fixed scope.",
        )


def executions_of(function: lambda_.IFunction) -> str:
    """Every durable execution of a function: arn:…:function:NAME:QUALIFIER/durable-execution/NAME/ID
    (https://docs.aws.amazon.com/lambda/latest/dg/durable-security.html)."""
    return f"{function.function_arn}:*"


def grant_executions(fn: lambda_.Function, runner: lambda_.Alias, *actions: str) -> None:
    """A function that deals with the runner's executions: it is told the runner's ARN (the task surfaces
    refuse long tasks without one) and may do `actions` on its executions, nothing else."""
    fn.add_environment("ASYNCINFER_RUNNER_FUNCTION_ARN", runner.function_arn)
    target = runner.version.lambda_
    fn.add_to_role_policy(iam.PolicyStatement(actions=list(actions), resources=[executions_of(target)]))
    acknowledge(
        fn.role,
        f"IAM5[Resource::<{Stack.of(fn).get_logical_id(target.node.default_child)}.Arn>:*]",
        "The runner's durable executions: their ARNs are the function's, a version and an execution id.",
    )


def grant_start(fn: lambda_.Function, runner: lambda_.Alias) -> None:
    """A function that starts the runner's executions: an Invoke of the runner's alias, and, when the name is
    already started with another payload (DurableExecutionAlreadyStartedException), the listing of the runner's
    executions by that name (asyncinfer.executions.lambda_durable): on the function (every version), then on
    the alias it is started on, nothing else."""
    runner.grant_invoke(fn)
    fn.add_to_role_policy(
        iam.PolicyStatement(
            actions=["lambda:ListDurableExecutionsByFunction"],
            resources=[runner.version.lambda_.function_arn, runner.function_arn],
        )
    )
