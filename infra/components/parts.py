"""What the function constructs build on, made once by the stack: the configuration, the one code asset
and its architecture, the table, bucket, queues and sealing key."""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3

from infra.components.queues import Queues
from infra.config import InfraConfig


@dataclass(frozen=True)
class StackParts:
    config: InfraConfig
    code: lambda_.Code
    architecture: lambda_.Architecture
    table: dynamodb.ITableV2
    bucket: s3.IBucket
    queues: Queues
    sealing_key: kms.IKey
    # The long-task runner's alias (its qualified ARN), None where the deployment has none.
    runner: lambda_.IFunction | None = None

    def resources(self) -> tuple[InfraConfig, dynamodb.ITableV2, s3.IBucket, Queues, kms.IKey]:
        return self.config, self.table, self.bucket, self.queues, self.sealing_key

    @property
    def common(self) -> dict:
        """A Function's code, architecture and tracing, as keyword arguments."""
        return {"code": self.code, "architecture": self.architecture, "tracing": self.config.tracing}
