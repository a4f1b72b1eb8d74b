"""The asyncinfer stack: it only assembles constructs."""

from __future__ import annotations

import dataclasses

from aws_cdk import CfnOutput, Stack
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from infra.bundling import function_code
from infra.components.api import Api
from infra.components.audit import AuditLog
from infra.components.batches import Batches
from infra.components.domain import ApiDomain
from infra.components.endpoint import private_urls
from infra.components.firewall import ApiFirewall
from infra.components.monitoring import Monitoring
from infra.components.notifications import Notifications
from infra.components.parts import StackParts
from infra.components.pruner import Pruner
from infra.components.queues import Queues
from infra.components.runner import Runner
from infra.components.storage import Storage
from infra.components.sweeper import Sweeper
from infra.components.workers import Workers
from infra.config import ROOT, InfraConfig


class AsyncInferStack(Stack):
    def __init__(self, scope: Construct, id: str, *, config: InfraConfig, **kwargs) -> None:
        super().__init__(scope, id, **kwargs)
        architecture = lambda_.Architecture.ARM_64 if config.architecture == "arm64" else lambda_.Architecture.X86_64
        code = function_code(config.architecture, ROOT / config.models_file if config.models_file else None)
        self.storage = Storage(self, "Storage", retention_days=config.retention_days)
        self.queues = Queues(
            self,
            "Queues",
            worker_timeout_seconds=config.worker_timeout_seconds,
            max_receive_count=config.max_receive_count,
            webhook_max_attempts=config.webhook_max_attempts,
        )
        parts = StackParts(
            config=config,
            code=code,
            architecture=architecture,
            table=self.storage.table,
            bucket=self.storage.bucket,
            queues=self.queues,
            sealing_key=self.storage.sealing_key,
        )
        self.runner = Runner(self, "Runner", parts=parts) if config.long_tasks else None
        if self.runner is not None:
            parts = dataclasses.replace(parts, runner=self.runner.alias)
            self.pruner = Pruner(self, "Pruner", parts=parts, runner=self.runner.function)
        self.workers = Workers(self, "Workers", parts=parts)
        self.api = Api(self, "Api", parts=parts)
        self.sweeper = Sweeper(self, "Sweeper", parts=parts)
        self.notifications = Notifications(self, "Notifications", parts=parts)
        self.batches = Batches(self, "Batches", parts=parts, api_environment=self.api.environment)
        self.monitoring = Monitoring(
            self,
            "Monitoring",
            config=config,
            queues=self.queues,
            worker=self.workers.worker,
            dead_letter=self.workers.dead_letter,
            sender=self.notifications.sender,
            runner=self.runner.function if self.runner is not None else None,
            api=self.api.rest_api,
            api_functions=self.api.functions,
        )
        # Written only by the operator's admin commands (no function's role names it).
        self.audit = AuditLog(self, "Audit", stage=config.stage)
        CfnOutput(self, "ApiUrl", value=self.api.url, description="Base URL of the API")
        for name, url in private_urls(self.api.rest_api, config).items():
            CfnOutput(self, name, value=url, description="Base URL of the private API through this VPC endpoint")
        if config.waf.enabled:
            self.firewall = ApiFirewall(
                self,
                "Firewall",
                stage=self.api.rest_api.deployment_stage,
                config=config.waf,
                name=f"asyncinfer-{config.stage}",
            )
        if config.custom_domain is not None:
            self.domain = ApiDomain(self, "Domain", api=self.api.rest_api, config=config.custom_domain)
            CfnOutput(self, "CustomDomainUrl", value=self.domain.url, description="The API under its own name")
        CfnOutput(self, "TableName", value=self.storage.table.table_name, description="For `asyncinfer keys create`")
        CfnOutput(
            self,
            "UsagePlanId",
            value=self.api.usage_plan.usage_plan_id,
            description="For `asyncinfer keys create --usage-plan`",
        )
        CfnOutput(self, "BucketName", value=self.storage.bucket.bucket_name)
        CfnOutput(
            self,
            "BatchFunctionName",
            value=self.batches.function.function_name,
            description="For `asyncinfer schedule run NAME --function`",
        )
        if self.runner is not None:
            CfnOutput(
                self,
                "RunnerFunctionName",
                value=self.runner.function.function_name,
                description="For `asyncinfer runner prune --function`",
            )
        CfnOutput(self, "AlarmTopicArn", value=self.monitoring.topic.topic_arn)
        CfnOutput(self, "DashboardName", value=self.monitoring.dashboard.dashboard_name)
        CfnOutput(
            self,
            "AuditTableName",
            value=self.audit.table.table_name,
            description="ASYNCINFER_AUDIT_TABLE_NAME, for the admin commands and `asyncinfer audit list`",
        )
