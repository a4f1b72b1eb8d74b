"""The task table and the outputs bucket."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from asyncinfer.store.dynamodb_tenants import KEY_ITEM_PREFIX, KEY_LIST_PREFIX
from asyncinfer.store.dynamodb_usage import usage_pk
from asyncinfer.store.schema import (
    INFLIGHT_ATTRIBUTE,
    INFLIGHT_INDEX,
    QUEUED_ATTRIBUTE,
    QUEUED_INDEX,
    TABLE_STREAM_VIEW,
    TTL_ATTRIBUTE,
)
from infra.nag import acknowledge

# Prefixes the functions write under (asyncinfer.blobs.base); all expire with the tasks.
EXPIRING_PREFIXES = ("requests/", "results/", "outputs/")
# Batches' inputs and results (asyncinfer.tasks.batches), and uploaded input files: they expire too.
BATCH_PREFIXES = ("batches/", "uploads/")
# A budget's item (sk `budget`) shares its partition, usage#<tenant>, with the usage lines and reservations that
# the functions count in (only ever by updating counters): these are its attributes, which they may not name.
BUDGET_ATTRIBUTES = ("daily", "monthly", "updated_at", "classes", "waiting_priority", "waiting_default", "waiting_flex")
_WRITES = ("dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem")


def grant_table(table: dynamodb.ITableV2, grantee: iam.IGrantable, *actions: str, index: str | None = None) -> None:
    """Exactly these actions on the table, or on one of its indexes: `table.grant` adds index/* to all."""
    resource = f"{table.table_arn}/index/{index}" if index else table.table_arn
    grantee.grant_principal.add_to_principal_policy(iam.PolicyStatement(actions=list(actions), resources=[resource]))


def deny_operator_items(grantee: iam.IGrantable, table: dynamodb.ITableV2) -> None:
    """The writes only the operator makes (asyncinfer keys, asyncinfer budget), refused: any to an API key's
    item or a tenant's key list, by partition key (dynamodb:LeadingKeys); and in the usage partitions, any put
    or delete, and any update naming a budget's attributes. Denies rather than narrower grants: IAM has no
    pattern for "a tenant" that leaves the other partitions out, and a deny holds whatever else is granted."""
    usage = usage_pk("")["S"] + "*"
    denials = [
        (_WRITES, {"ForAnyValue:StringLike": {"dynamodb:LeadingKeys": [KEY_ITEM_PREFIX + "*", KEY_LIST_PREFIX + "*"]}}),
        (
            ("dynamodb:PutItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem"),
            {"ForAnyValue:StringLike": {"dynamodb:LeadingKeys": [usage]}},
        ),
        (
            ("dynamodb:UpdateItem",),
            {
                "ForAnyValue:StringLike": {"dynamodb:LeadingKeys": [usage]},
                "ForAnyValue:StringEquals": {"dynamodb:Attributes": list(BUDGET_ATTRIBUTES)},
            },
        ),
    ]
    for actions, conditions in denials:
        grantee.grant_principal.add_to_principal_policy(
            iam.PolicyStatement(
                effect=iam.Effect.DENY, actions=list(actions), resources=[table.table_arn], conditions=conditions
            )
        )


class Storage(Construct):
    def __init__(self, scope: Construct, id: str, *, retention_days: int) -> None:
        super().__init__(scope, id)
        self.table = dynamodb.TableV2(
            self,
            "Tasks",
            partition_key=dynamodb.Attribute(name="pk", type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name="sk", type=dynamodb.AttributeType.STRING),
            billing=dynamodb.Billing.on_demand(),
            # Sparse: only unfinished tasks carry the key. Keys only, so status changes cost no index write.
            global_secondary_indexes=[
                dynamodb.GlobalSecondaryIndexPropsV2(
                    index_name=INFLIGHT_INDEX,
                    partition_key=dynamodb.Attribute(name=INFLIGHT_ATTRIBUTE, type=dynamodb.AttributeType.STRING),
                    sort_key=dynamodb.Attribute(name="sk", type=dynamodb.AttributeType.STRING),
                    projection_type=dynamodb.ProjectionType.KEYS_ONLY,
                ),
                # Sparse too: the tasks waiting to start, by lane; a task's place in line is a count on it.
                dynamodb.GlobalSecondaryIndexPropsV2(
                    index_name=QUEUED_INDEX,
                    partition_key=dynamodb.Attribute(name=QUEUED_ATTRIBUTE, type=dynamodb.AttributeType.STRING),
                    sort_key=dynamodb.Attribute(name="sk", type=dynamodb.AttributeType.STRING),
                    projection_type=dynamodb.ProjectionType.KEYS_ONLY,
                ),
            ],
            time_to_live_attribute=TTL_ATTRIBUTE,
            # Its consumer (the notifier) hears when a task someone waits for ends: webhooks, batches.
            dynamo_stream=dynamodb.StreamViewType(TABLE_STREAM_VIEW),
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            removal_policy=RemovalPolicy.RETAIN,
        )
        # Wraps the data keys that seal client secrets in the table and bucket (MCP credentials, webhook URLs).
        # Kept with the table: a deleted key would leave its sealed values unreadable.
        self.sealing_key = kms.Key(
            self,
            "SealingKey",
            description="asyncinfer: seals MCP credentials and webhook URLs at rest",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.RETAIN,
        )
        self.access_logs = s3.Bucket(
            self,
            "AccessLogs",
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            encryption=s3.BucketEncryption.S3_MANAGED,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            lifecycle_rules=[s3.LifecycleRule(expiration=Duration.days(365))],
            removal_policy=RemovalPolicy.RETAIN,
        )
        acknowledge(
            self.access_logs,
            "S1",
            "This bucket receives the outputs bucket's server access logs; logging it to itself would loop.",
        )
        self.bucket = s3.Bucket(
            self,
            "Outputs",
            server_access_logs_bucket=self.access_logs,
            server_access_logs_prefix="outputs/",
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            encryption=s3.BucketEncryption.S3_MANAGED,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            versioned=False,
            lifecycle_rules=[
                s3.LifecycleRule(prefix=prefix, expiration=Duration.days(retention_days + 1))
                for prefix in EXPIRING_PREFIXES + BATCH_PREFIXES
            ]
            + [s3.LifecycleRule(abort_incomplete_multipart_upload_after=Duration.days(1))],
            removal_policy=RemovalPolicy.RETAIN,
        )
