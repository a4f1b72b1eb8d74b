"""The worker (consumes the tasks queue) and the dead-letter consumer (marks dead-lettered tasks FAILED)."""

from __future__ import annotations

import json

from aws_cdk import Duration, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda_event_sources as sources
from constructs import Construct

from infra.components.function import Function
from infra.components.grants import grant_sealing
from infra.components.parts import StackParts
from infra.components.storage import EXPIRING_PREFIXES, grant_table
from infra.nag import acknowledge

INFERENCE_PROFILE_PREFIXES = ("us.", "eu.", "apac.", "us-gov.", "global.")


def bedrock_model_arns(registry, stack: Stack) -> list[str]:
    """Foundation-model ARNs of the registry's Bedrock models; for a cross-region inference profile,
    the profile and its model in every region."""
    arns: set[str] = set()
    for spec in registry.models.values():
        provider = registry.provider_config(spec)
        if provider is None or getattr(provider, "type", None) != "bedrock":
            continue
        region = provider.region or stack.region
        if spec.upstream.startswith(INFERENCE_PROFILE_PREFIXES):
            model = spec.upstream.split(".", 1)[1]
            arns.add(f"arn:aws:bedrock:{region}:{stack.account}:inference-profile/{spec.upstream}")
            arns.add(f"arn:aws:bedrock:*::foundation-model/{model}")
        else:
            arns.add(f"arn:aws:bedrock:{region}::foundation-model/{spec.upstream}")
    return sorted(arns)


class Workers(Construct):
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        parts: StackParts,
    ) -> None:
        super().__init__(scope, id)
        config, table, bucket, queues, sealing_key = parts.resources()
        worker_env = {
            "ASYNCINFER_TABLE_NAME": table.table_name,
            "ASYNCINFER_BUCKET_NAME": bucket.bucket_name,
            "ASYNCINFER_CONCURRENCY": str(config.worker_batch_size),
            **config.outbound_environment(),
        }
        if config.provider_secret_arns:
            worker_env["ASYNCINFER_PROVIDER_SECRET_ARNS"] = json.dumps(config.provider_secret_arns)
        self.worker = Function(
            self,
            "Worker",
            handler="worker",
            **parts.common,
            timeout_seconds=config.worker_timeout_seconds,
            memory_size=1024,
            environment=worker_env,
        ).function
        # It opens a task's sealed MCP credentials to call its servers; nothing else.
        grant_sealing(self.worker, sealing_key, open=("mcp",))
        # Batch items run beside the tasks, never in front of them: a queue and a concurrency of their own.
        self.worker.add_event_source(
            sources.SqsEventSource(
                queues.batch_items,
                batch_size=config.worker_batch_size,
                max_concurrency=config.batch_worker_max_concurrency,
                report_batch_item_failures=True,
            )
        )
        self.worker.add_event_source(
            sources.SqsEventSource(
                queues.tasks,
                batch_size=config.worker_batch_size,
                max_batching_window=Duration.seconds(config.worker_batching_window_seconds)
                if config.worker_batching_window_seconds
                else None,
                max_concurrency=config.worker_max_concurrency,
                report_batch_item_failures=True,
            )
        )
        # Exactly what the worker protocol does: get, compare-and-set updates, event-log puts.
        grant_table(table, self.worker, "dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:PutItem")
        self.worker.add_to_role_policy(
            iam.PolicyStatement(
                actions=["s3:GetObject", "s3:PutObject"],
                resources=[bucket.arn_for_objects(f"{prefix}*") for prefix in EXPIRING_PREFIXES],
            )
        )
        registry = config.registry()
        secrets = sorted(set(config.provider_secret_arns) | set(registry.secret_arns()))
        if secrets:
            # Only the worker talks to model providers; it reads exactly the configured secrets.
            self.worker.add_to_role_policy(
                iam.PolicyStatement(actions=["secretsmanager:GetSecretValue"], resources=secrets)
            )
        bedrock = bedrock_model_arns(registry, Stack.of(self))
        if bedrock:
            # ... and invokes exactly the Bedrock models of the registry (Converse and ConverseStream too).
            self.worker.add_to_role_policy(
                iam.PolicyStatement(
                    actions=["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"], resources=bedrock
                )
            )
            for arn in bedrock:
                if "*" in arn:
                    acknowledge(
                        self.worker.role,
                        f"IAM5[Resource::{arn}]",
                        "A cross-region inference profile routes to its model in any of its regions.",
                    )
        for prefix in EXPIRING_PREFIXES:
            acknowledge(
                self.worker.role,
                f"IAM5[Resource::<{Stack.of(self).get_logical_id(bucket.node.default_child)}.Arn>/{prefix}*]",
                f"Each task's objects live under {prefix}<tenant>/<task id>; the prefix is the narrowest fixed scope.",
            )

        self.dead_letter = Function(
            self,
            "DeadLetter",
            handler="dead_letter",
            **parts.common,
            environment={"ASYNCINFER_TABLE_NAME": table.table_name},
        ).function
        self.dead_letter.add_event_source(
            sources.SqsEventSource(queues.dead_letters, batch_size=10, report_batch_item_failures=True)
        )
        # ... and webhook deliveries whose messages kept failing the sender: recorded failed (a put).
        self.dead_letter.add_event_source(
            sources.SqsEventSource(queues.webhook_dead_letters, batch_size=10, report_batch_item_failures=True)
        )
        grant_table(table, self.dead_letter, "dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:PutItem")
