"""The Responses function (asyncinfer.handlers.api_responses): an API function's rights over tasks, run as an ASGI
app under Lambda Web Adapter in streaming mode, as the streaming function is, since its answers are Server-Sent
Events when the client asks (a create with `stream: true`, a retrieve with `?stream=true`) and JSON otherwise."""

from __future__ import annotations

from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from infra.components.function import WEB_ADAPTER_ENVIRONMENT, Function
from infra.components.grants import grant_executions, grant_task_rights
from infra.components.parts import StackParts
from infra.components.storage import deny_operator_items

# What Lambda Web Adapter's /opt/bootstrap runs: it starts uvicorn with the function's ASGI app.
SCRIPT = "asyncinfer/handlers/api_responses.sh"


class ResponsesFunction(Construct):
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        parts: StackParts,
        environment: dict[str, str],
        web_adapter: lambda_.ILayerVersion,
        timeout_seconds: int,
    ) -> None:
        super().__init__(scope, id)
        _, table, bucket, queues, sealing_key = parts.resources()
        self.function = Function(
            self,
            "Function",
            handler="api_responses",
            timeout_seconds=timeout_seconds,
            layers=[web_adapter],
            environment={**environment, **WEB_ADAPTER_ENVIRONMENT},
            **parts.common,
        ).function
        # HANDLERS names its resolver's entry point (what the dev stack invokes); on Lambda the adapter runs the app.
        cfn = self.function.node.default_child
        assert isinstance(cfn, lambda_.CfnFunction)
        cfn.handler = SCRIPT
        # Submits, reads, cancels and deletes tasks as every task surface does; its stream leases are the tenant's
        # items these rights already cover (put and delete in the tenant's partitions).
        grant_task_rights(
            self.function, "api_responses", table=table, bucket=bucket, queues=queues, sealing_key=sealing_key
        )
        deny_operator_items(self.function, table)
        if parts.runner is not None:
            grant_executions(self.function, parts.runner, "lambda:StopDurableExecution")
