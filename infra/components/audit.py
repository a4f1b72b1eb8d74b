"""The audit log's table (asyncinfer.tasks.audit): a table of its own, so that no function's role names it. Its
only writers are the operator's credentials (the `asyncinfer` CLI); no grant here, on purpose."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from constructs import Construct

from asyncinfer.store.dynamodb_audit import audit_table_name


class AuditLog(Construct):
    def __init__(self, scope: Construct, id: str, *, stage: str) -> None:
        super().__init__(scope, id)
        self.table = dynamodb.TableV2(
            self,
            "Table",
            # A name the operator can type (asyncinfer-<stage>-audit), as ASYNCINFER_AUDIT_TABLE_NAME.
            table_name=audit_table_name(f"asyncinfer-{stage}"),
            partition_key=dynamodb.Attribute(name="pk", type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name="sk", type=dynamodb.AttributeType.STRING),
            billing=dynamodb.Billing.on_demand(),
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            deletion_protection=True,
            removal_policy=RemovalPolicy.RETAIN,
        )
