"""Lambda REQUEST authorizer: `Authorization: Bearer <key>` (or, as Anthropic's SDK sends it, `x-api-key: <key>`;
Authorization wins when both come) -> the key's tenant in the context, and the tenant's usage-plan key for API
Gateway's per-tenant throttling."""

from __future__ import annotations

from asyncinfer.handlers.cold import cold_start

with cold_start():  # the imports: the function's cold start
    from typing import TYPE_CHECKING

    from asyncinfer import wiring
    from asyncinfer.config import AuthorizerSettings
    from asyncinfer.observability import logger, metrics, tracing
    from asyncinfer.tasks.keys import authenticate, presented_key

if TYPE_CHECKING:
    from asyncinfer.store.base import TaskStore

SETTINGS = AuthorizerSettings  # the infra tests check each deployed environment against it


@wiring.cached
def store() -> TaskStore:
    return wiring.task_store(SETTINGS().table_name)


@logger.inject_lambda_context(correlation_id_path="requestContext.requestId")
@metrics.log_metrics
@tracing.flushed
def lambda_handler(event: dict, context: object) -> dict:
    # Imported by the first request: Powertools' data classes package loads every event source's class.
    from aws_lambda_powertools.utilities.data_classes.api_gateway_authorizer_event import (
        APIGatewayAuthorizerRequestEvent,
        APIGatewayAuthorizerResponse,
    )

    request = APIGatewayAuthorizerRequestEvent(event)
    record = authenticate(store(), presented_key(request.headers))
    if record is None:
        # API Gateway's contract: this exact message makes it answer 401.
        raise Exception("Unauthorized")
    arn = request.parsed_arn
    policy = APIGatewayAuthorizerResponse(
        principal_id=record.tenant,
        region=arn.region,
        aws_account_id=arn.aws_account_id,
        api_id=arn.api_id,
        stage=arn.stage,
        context={"tenant": record.tenant},
        # API Gateway throttles (and counts) the request against this key of the tenant's usage plan.
        usage_identifier_key=record.usage_key,
    )
    # One policy for every route, so API Gateway's authorizer cache serves the tenant's next calls.
    policy.allow_all_routes()
    return policy.asdict()
