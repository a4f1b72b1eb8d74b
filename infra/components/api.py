"""The public REST API: the cached REQUEST authorizer, every route of asyncinfer.routes, the API and
streaming functions behind them, access logs, stage throttling and JSON gateway responses."""

from __future__ import annotations

import json

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from constructs import Construct

from asyncinfer.ops.deployment import web_adapter_layer_arn
from asyncinfer.routes import ROUTES, Route
from asyncinfer.store.schema import QUEUED_INDEX
from asyncinfer.surfaces import cors
from asyncinfer.surfaces.edge import ROUTE_NOT_FOUND, UNAUTHORIZED
from asyncinfer.tasks.keys import takes_x_api_key
from infra.components.cors import add_preflights, gateway_headers
from infra.components.endpoint import endpoint_settings
from infra.components.function import WEB_ADAPTER_ENVIRONMENT, Function
from infra.components.grants import grant_batch_rights, grant_executions, grant_file_rights, grant_task_rights
from infra.components.parts import StackParts
from infra.components.queues import Queues
from infra.components.responses_function import ResponsesFunction
from infra.components.storage import deny_operator_items, grant_table
from infra.nag import acknowledge

# API Gateway stops a stream after 15 minutes; the function closes it first so the client resumes.
STREAM_TIMEOUT = Duration.minutes(15)

# The answers API Gateway gives itself, in the same {"error": {code, message}} shape as the functions.
# A None status keeps API Gateway's own; the generic ones carry its message for that case.
_GATEWAY_MESSAGE = "$context.error.messageString"
GATEWAY_RESPONSES: dict[apigw.ResponseType, tuple[int | None, str]] = {
    apigw.ResponseType.UNAUTHORIZED: (401, json.dumps(UNAUTHORIZED)),
    apigw.ResponseType.ACCESS_DENIED: (403, json.dumps({"error": {"code": "forbidden", "message": "Not allowed"}})),
    # A REST API answers an unknown path (or method) this way; it is a 404 to a client.
    apigw.ResponseType.MISSING_AUTHENTICATION_TOKEN: (404, json.dumps(ROUTE_NOT_FOUND)),
    apigw.ResponseType.THROTTLED: (
        429,
        json.dumps({"error": {"code": "rate_limited", "message": "Too many requests, slow down"}}),
    ),
    apigw.ResponseType.QUOTA_EXCEEDED: (
        429,
        json.dumps({"error": {"code": "quota_exceeded", "message": "The tenant's daily request quota is used up"}}),
    ),
    # The authorizer named no key of the usage plan: the API key was created without --usage-plan.
    apigw.ResponseType.INVALID_API_KEY: (
        403,
        json.dumps(
            {
                "error": {
                    "code": "no_usage_plan",
                    "message": "This API key is not in the deployment's usage plan; create it with --usage-plan",
                }
            }
        ),
    ),
    apigw.ResponseType.REQUEST_TOO_LARGE: (
        413,
        json.dumps({"error": {"code": "request_too_large", "message": "Request body too large"}}),
    ),
    apigw.ResponseType.INTEGRATION_TIMEOUT: (
        504,
        json.dumps({"error": {"code": "timeout", "message": "The request timed out; nothing was lost, retry"}}),
    ),
    apigw.ResponseType.WAF_FILTERED: (
        403,
        json.dumps({"error": {"code": "blocked", "message": "Refused by the API's web application firewall"}}),
    ),
    apigw.ResponseType.DEFAULT_4_XX: (None, f'{{"error": {{"code": "bad_request", "message": {_GATEWAY_MESSAGE}}}}}'),
    apigw.ResponseType.DEFAULT_5_XX: (None, f'{{"error": {{"code": "gateway_error", "message": {_GATEWAY_MESSAGE}}}}}'),
}


class Api(Construct):
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        parts: StackParts,
        routes: tuple[Route, ...] = ROUTES,
    ) -> None:
        super().__init__(scope, id)
        config, table, bucket, queues, sealing_key = parts.resources()
        stack = Stack.of(self)
        self._runner = parts.runner
        common = parts.common

        authorizer_fn = Function(
            self, "Authorizer", handler="authorizer", environment={"ASYNCINFER_TABLE_NAME": table.table_name}, **common
        ).function
        grant_table(table, authorizer_fn, "dynamodb:GetItem")

        # Every function that answers a browser names its allowed origins (asyncinfer.surfaces.cors).
        origins = tuple(config.cors_origins)
        answering = {cors.ORIGINS_ENV: ",".join(origins)} if origins else {}
        api_env = {
            **answering,
            "ASYNCINFER_TABLE_NAME": table.table_name,
            **queues.lane_environment(),
            "ASYNCINFER_BUCKET_NAME": bucket.bucket_name,
            "ASYNCINFER_RETENTION_DAYS": str(config.retention_days),
            "ASYNCINFER_MAX_INFLIGHT_TASKS": str(config.max_inflight_tasks),
            "ASYNCINFER_SUBMITS_PER_WINDOW": str(config.submits_per_minute),
            "ASYNCINFER_SUBMIT_WINDOW_SECONDS": "60",
            **config.outbound_environment(),
        }
        # One small function per surface; each task surface with the same rights.
        api_functions = {
            name: self._api_function(
                name, api_env, common, table=table, bucket=bucket, queues=queues, sealing_key=sealing_key
            )
            for name in sorted({route.function for route in routes if route.function.startswith("api_")})
            if name not in ("api_docs", "api_webhooks", "api_responses")
        }
        if "api_batches" in api_functions:
            grant_batch_rights(api_functions["api_batches"], config, table=table, bucket=bucket, queues=queues)
            grant_file_rights(api_functions["api_batches"], bucket)
        # Webhook secrets and deliveries: its own records in the table, and the webhook queue.
        api_functions["api_webhooks"] = Function(
            self,
            "ApiWebhooks",
            handler="api_webhooks",
            environment={
                **answering,
                "ASYNCINFER_TABLE_NAME": table.table_name,
                "ASYNCINFER_WEBHOOK_QUEUE_URL": queues.webhooks.queue_url,
                "ASYNCINFER_RETENTION_DAYS": str(config.retention_days),
                "ASYNCINFER_WEBHOOK_SECRET_GRACE_SECONDS": str(config.webhook_secret_grace_seconds),
            },
            **common,
        ).function
        grant_table(table, api_functions["api_webhooks"], "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query")
        deny_operator_items(api_functions["api_webhooks"], table)
        queues.webhooks.grant_send_messages(api_functions["api_webhooks"])
        # The OpenAPI document and Swagger UI: public, and with no access to anything.
        api_functions["api_docs"] = Function(
            self, "ApiDocs", handler="api_docs", environment=answering, **common
        ).function

        web_adapter = lambda_.LayerVersion.from_layer_version_arn(
            self,
            "WebAdapter",
            web_adapter_layer_arn(
                stack.region, config.architecture, config.web_adapter_layer_version, config.web_adapter_layer_arn
            ),
        )
        stream_fn = Function(
            self,
            "Stream",
            handler="stream",
            timeout_seconds=int(STREAM_TIMEOUT.to_seconds()),
            memory_size=256,
            layers=[web_adapter],
            environment={**WEB_ADAPTER_ENVIRONMENT, **answering, "ASYNCINFER_TABLE_NAME": table.table_name},
            **common,
        ).function
        # The task and its event log, read; and the tenant's stream leases (its cap on open streams).
        grant_table(table, stream_fn, "dynamodb:GetItem", "dynamodb:Query", "dynamodb:PutItem", "dynamodb:DeleteItem")
        # ... and a queued task's place in line, for the stream's status events (a count on the queued index).
        grant_table(table, stream_fn, "dynamodb:Query", index=QUEUED_INDEX)
        deny_operator_items(stream_fn, table)
        if any(route.function == "api_responses" for route in routes):
            api_functions["api_responses"] = ResponsesFunction(
                self,
                "ApiResponses",
                parts=parts,
                environment=api_env,
                web_adapter=web_adapter,
                timeout_seconds=int(STREAM_TIMEOUT.to_seconds()),
            ).function
        functions = {"authorizer": authorizer_fn, "stream": stream_fn, **api_functions}

        self.access_logs = logs.LogGroup(
            self, "AccessLogs", retention=logs.RetentionDays.THREE_MONTHS, removal_policy=RemovalPolicy.DESTROY
        )
        self.rest_api = apigw.RestApi(
            self,
            "RestApi",
            rest_api_name=f"asyncinfer-{config.stage}",
            description="asyncinfer: disconnect-safe asynchronous inference",
            **endpoint_settings(self, config),  # regional, or private to cdk.json's VPC endpoints
            # POST /v1/files: the upload reaches the function byte for byte (base64), not as UTF-8 text.
            binary_media_types=["multipart/form-data"],
            # API Gateway writes access logs through one role per account and region (its account settings);
            # without one, creating the stage fails. Kept on stack deletion: other APIs may log through it.
            cloud_watch_role=config.api_gateway_cloudwatch_role,
            cloud_watch_role_removal_policy=RemovalPolicy.RETAIN if config.api_gateway_cloudwatch_role else None,
            # The authorizer names the tenant's key of the usage plan: clients never send x-api-key.
            api_key_source_type=apigw.ApiKeySourceType.AUTHORIZER,
            deploy_options=apigw.StageOptions(
                stage_name=config.stage,
                access_log_destination=apigw.LogGroupLogDestination(self.access_logs),
                access_log_format=apigw.AccessLogFormat.json_with_standard_fields(
                    caller=False,
                    http_method=True,
                    ip=True,
                    protocol=True,
                    request_time=True,
                    resource_path=True,
                    response_length=True,
                    status=True,
                    user=True,
                ),
                throttling_rate_limit=config.api_throttle_rate,
                throttling_burst_limit=config.api_throttle_burst,
                # A request's trace starts at its function's SERVER span (docs/operate/tracing.md): the stage's
                # X-Ray segment would be a trace of its own that no task's spans join.
                tracing_enabled=False,
            ),
        )
        for response_type, (status, body) in GATEWAY_RESPONSES.items():
            self.rest_api.add_gateway_response(
                f"Gateway{response_type.response_type}",
                type=response_type,
                status_code=str(status) if status else None,
                templates={"application/json": body},
                # A throttled client backs off for a second (the plan's rate refills within one).
                response_headers={
                    **({"Retry-After": "'1'"} if response_type.response_type == "THROTTLED" else {}),
                    **gateway_headers(origins),
                }
                or None,
            )
        self.authorizer = apigw.RequestAuthorizer(
            self,
            "KeyAuthorizer",
            handler=authorizer_fn,
            identity_sources=[apigw.IdentitySource.header("Authorization")],
            results_cache_ttl=Duration.seconds(config.authorizer_cache_seconds),
        )
        # Anthropic's SDK sends its key as x-api-key, other clients as Authorization. API Gateway calls a REQUEST
        # authorizer only when every identity source is present (else 401), so this one, for the routes that take
        # either header, has none, which it may only without a cache: the same function runs on every request.
        self.x_api_key_authorizer = apigw.RequestAuthorizer(
            self,
            "XApiKeyAuthorizer",
            handler=authorizer_fn,
            identity_sources=[],
            results_cache_ttl=Duration.seconds(0),
        )
        cfn_authorizer = self.x_api_key_authorizer.node.default_child
        assert isinstance(cfn_authorizer, apigw.CfnAuthorizer)
        cfn_authorizer.add_property_deletion_override("IdentitySource")  # absent, not ""
        integrations: dict[str, apigw.LambdaIntegration] = {}
        for route in routes:
            name = f"{route.function}:{'stream' if route.streaming else 'buffered'}"
            if name not in integrations:
                integrations[name] = apigw.LambdaIntegration(
                    functions[route.function],
                    proxy=True,
                    # One invoke permission per function for the whole API, not one per method.
                    scope_permission_to_method=False,
                    response_transfer_mode=apigw.ResponseTransferMode.STREAM if route.streaming else None,
                    timeout=STREAM_TIMEOUT if route.streaming else None,
                )
            resource = self.rest_api.root.resource_for_path(route.path)
            method = resource.add_method(
                route.method,
                integrations[name],
                authorizer=(self.x_api_key_authorizer if takes_x_api_key(route.path) else self.authorizer)
                if route.authorized
                else None,
                authorization_type=apigw.AuthorizationType.CUSTOM if route.authorized else apigw.AuthorizationType.NONE,
                api_key_required=route.authorized,
            )
            if not route.authorized:
                acknowledge(method, "APIG4", f"{route.method} {route.path} is public by design (health and docs).")
                acknowledge(method, "COG4", f"{route.method} {route.path} is public by design (health and docs).")
            else:
                acknowledge(
                    method,
                    "COG4",
                    "Clients authenticate with API keys checked by the Lambda REQUEST authorizer, not Cognito users.",
                )
        if origins:
            add_preflights(self.rest_api, {route.path for route in routes}, origins)
        # Every tenant's key sits in this plan (asyncinfer keys create --usage-plan): one throttle each.
        self.usage_plan = self.rest_api.add_usage_plan(
            "TenantPlan",
            name=f"asyncinfer-{config.stage}-tenants",
            description="asyncinfer: the throttle (and quota) of each tenant",
            throttle=apigw.ThrottleSettings(rate_limit=config.tenant_rate_limit, burst_limit=config.tenant_burst_limit),
            quota=apigw.QuotaSettings(limit=config.tenant_daily_quota, period=apigw.Period.DAY)
            if config.tenant_daily_quota
            else None,
            api_stages=[apigw.UsagePlanPerApiStage(api=self.rest_api, stage=self.rest_api.deployment_stage)],
        )
        acknowledge(
            self.rest_api,
            "APIG2",
            "Bodies are validated by the functions' strict pydantic models, which answer with stable error codes.",
        )
        if not config.waf.enabled:  # on: infra/components/firewall.py, which APIG3 finds
            acknowledge(
                self.rest_api,
                "APIG3",
                "WAF is off in cdk.json (`waf.enabled`, docs/operate/going-public.md); stage throttling and the "
                "authorizer are on.",
            )
        acknowledge(
            self.rest_api.deployment_stage,
            "APIG6",
            "Access logs are on (JSON, 3 months). Execution logs would go to a log group API Gateway makes "
            "outside the stack, with no retention, and can hold request data.",
        )
        if config.api_gateway_cloudwatch_role:
            acknowledge(
                self.rest_api.node.find_child("CloudWatchRole"),
                "IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]",
                "The managed policy AWS documents for API Gateway's account-level logging role.",
            )
        self.url = self.rest_api.url
        self.functions = functions
        self.environment = api_env

    def _api_function(
        self,
        name: str,
        environment: dict[str, str],
        common: dict,
        *,
        table: dynamodb.ITableV2,
        bucket: s3.IBucket,
        queues: Queues,
        sealing_key: kms.IKey,
    ) -> lambda_.IFunction:
        fn = Function(
            self, "".join(part.title() for part in name.split("_")), handler=name, environment=environment, **common
        ).function
        grant_task_rights(fn, name, table=table, bucket=bucket, queues=queues, sealing_key=sealing_key)
        # Behind the API: never a key, nor a budget's limits (only `asyncinfer keys` and `asyncinfer budget`).
        deny_operator_items(fn, table)
        if self._runner is not None:
            # A cancel stops the task's execution.
            grant_executions(fn, self._runner, "lambda:StopDurableExecution")
        return fn
