"""The asyncinfer stack: it only assembles constructs."""

from __future__ import annotations

from aws_cdk import Stack
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from infra.bundling import function_code
from infra.components.queues import Queues
from infra.components.storage import Storage
from infra.components.workers import Workers
from infra.config import InfraConfig


class AsyncInferStack(Stack):
    def __init__(self, scope: Construct, id: str, *, config: InfraConfig, **kwargs) -> None:
        super().__init__(scope, id, **kwargs)
        architecture = lambda_.Architecture.ARM_64 if config.architecture == "arm64" else lambda_.Architecture.X86_64
        code = function_code(architecture)
        self.storage = Storage(self, "Storage", retention_days=config.retention_days)
        self.queues = Queues(
            self,
            "Queues",
            visibility_seconds=config.queue_visibility_seconds,
            max_receive_count=config.max_receive_count,
        )
        self.workers = Workers(
            self,
            "Workers",
            config=config,
            code=code,
            architecture=architecture,
            table=self.storage.table,
            bucket=self.storage.bucket,
            queues=self.queues,
        )
