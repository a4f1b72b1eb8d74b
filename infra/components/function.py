"""The one way this stack builds a function: shared code asset, handler from the route table, settings env."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from asyncinfer.domain.limits import MAX_STREAM_SECONDS
from asyncinfer.routes import HANDLERS
from infra.config import TracingConfig
from infra.nag import acknowledge

# What Lambda Web Adapter needs to run a function's ASGI app with its answers streamed (the streaming function's,
# api_responses'): its wrapper, the streamed invoke mode, and the app's health route and port.
WEB_ADAPTER_ENVIRONMENT = {
    "AWS_LAMBDA_EXEC_WRAPPER": "/opt/bootstrap",
    "AWS_LWA_INVOKE_MODE": "response_stream",
    "AWS_LWA_READINESS_CHECK_PATH": "/healthz",
    "PORT": "8080",
    "ASYNCINFER_MAX_STREAM_SECONDS": str(MAX_STREAM_SECONDS),
}


class Function(Construct):
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        handler: str,
        code: lambda_.Code,
        architecture: lambda_.Architecture,
        environment: dict[str, str],
        tracing: TracingConfig,
        timeout_seconds: int = 29,
        memory_size: int = 512,
        retention: logs.RetentionDays = logs.RetentionDays.ONE_MONTH,
        layers: list[lambda_.ILayerVersion] | None = None,
        durable_config: lambda_.DurableConfig | None = None,
        reserved_concurrency: int | None = None,
    ) -> None:
        super().__init__(scope, id)
        self.log_group = logs.LogGroup(self, "Logs", retention=retention, removal_policy=RemovalPolicy.DESTROY)
        # Its own role, allowed to write to its own log group only (no AWSLambdaBasicExecutionRole).
        role = iam.Role(self, "Role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
        self.log_group.grant_write(role)
        stack = Stack.of(self)
        if tracing.enabled:
            # Its spans, to X-Ray's OTLP endpoint (PutSpans) and the share Transaction Search indexes as trace
            # summaries (PutSpansForIndexing): https://docs.aws.amazon.com/service-authorization/latest/reference/list_awsx-ray.html
            role.add_to_policy(
                iam.PolicyStatement(actions=["xray:PutSpans", "xray:PutSpansForIndexing"], resources=["*"])
            )
        self.function = lambda_.Function(
            self,
            "Function",
            role=role,
            runtime=lambda_.Runtime.PYTHON_3_13,
            architecture=architecture,
            code=code,
            handler=HANDLERS[handler],
            timeout=Duration.seconds(timeout_seconds),
            memory_size=memory_size,
            # Lambda's own X-Ray segments would be a second trace, unconnected to the task's (docs/operate/tracing.md).
            tracing=lambda_.Tracing.DISABLED,
            log_group=self.log_group,
            layers=layers,
            durable_config=durable_config,
            reserved_concurrent_executions=reserved_concurrency,
            environment={
                "POWERTOOLS_SERVICE_NAME": "asyncinfer",
                "POWERTOOLS_METRICS_NAMESPACE": "asyncinfer",
                "POWERTOOLS_LOG_LEVEL": "INFO",
                # No function uses pydantic plugins: without this, the first model a function builds reads every
                # installed package's metadata looking for them (~20 ms of a cold start,
                # https://docs.pydantic.dev/latest/concepts/plugins/).
                "PYDANTIC_DISABLE_PLUGINS": "__all__",
                **tracing.environment(stack.region, stack.url_suffix),
                **environment,
            },
        )
        acknowledge(
            self.function,
            "L1",
            "Pinned to Python 3.13: the runtime the package is tested on and whose wheels the bundling selects.",
        )
        if tracing.enabled:
            acknowledge(
                self.function.role,
                "IAM5[Resource::*]",
                "Spans to X-Ray's OTLP endpoint: PutSpans and PutSpansForIndexing accept no resource narrower than *.",
            )
