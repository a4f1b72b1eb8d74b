import json

import pytest

from asyncinfer.routes import HANDLERS, ROUTES
from asyncinfer.surfaces.edge import ROUTE_NOT_FOUND, UNAUTHORIZED
from asyncinfer.surfaces.serving import WEB_APPS
from asyncinfer.tasks.keys import takes_x_api_key
from tests.infra.helpers import (
    CONFIG,
    actions_of,
    deployed_handler,
    functions_by_handler,
    of_type,
    policy_statements_of,
    queue_id,
)

pytestmark = pytest.mark.infra

# The only routes that may ever be public.
PUBLIC_PATHS = {"/health", "/docs", "/openapi.json"}


def methods_by_route(resources):
    api_resources = of_type(resources, "AWS::ApiGateway::Resource")

    def path_of(ref) -> str:
        if "Ref" not in ref:  # Fn::GetAtt RootResourceId
            return ""
        resource = api_resources[ref["Ref"]]
        return path_of(resource["ParentId"]) + "/" + resource["PathPart"]

    return {
        (m["HttpMethod"], path_of(m["ResourceId"]) or "/"): m
        for m in of_type(resources, "AWS::ApiGateway::Method").values()
        if m["HttpMethod"] != "OPTIONS"
    }


def function_id(resources, name):
    return functions_by_handler(resources)[deployed_handler(name)][0]


def integration_target(method) -> str:
    """The logical id of the function a proxy integration invokes."""
    parts = method["Integration"]["Uri"]["Fn::Join"][1]
    (target,) = [p["Fn::GetAtt"][0] for p in parts if isinstance(p, dict) and "Fn::GetAtt" in p]
    return target


def authorizers(resources) -> tuple[str, str]:
    """The logical ids of the cached Authorization authorizer and of the x-api-key routes' one."""
    found = of_type(resources, "AWS::ApiGateway::Authorizer")
    assert len(found) == 2
    (cached,) = [k for k, a in found.items() if a.get("IdentitySource")]
    (open_one,) = [k for k in found if k != cached]
    return cached, open_one


def test_every_route_is_deployed_with_the_authorizer_on_all_but_health_and_docs(resources):
    methods = methods_by_route(resources)
    assert set(methods) == {(r.method, r.path) for r in ROUTES}
    cached, x_api_key = authorizers(resources)
    for route in ROUTES:
        method = methods[(route.method, route.path)]
        if route.path in PUBLIC_PATHS:
            assert method["AuthorizationType"] == "NONE"
            assert not method.get("ApiKeyRequired")
        else:
            assert route.authorized, f"{route.path} must not be public"
            assert method["AuthorizationType"] == "CUSTOM", route
            authorizer = x_api_key if takes_x_api_key(route.path) else cached
            assert method["AuthorizerId"] == {"Ref": authorizer}, route
            # Throttled per tenant: the usage-plan key the authorizer names is required.
            assert method["ApiKeyRequired"] is True, route
        assert integration_target(method) == function_id(resources, route.function)


def test_the_authorizer_is_a_cached_request_authorizer_on_the_authorization_header(resources):
    authorizer = of_type(resources, "AWS::ApiGateway::Authorizer")[authorizers(resources)[0]]
    assert authorizer["Type"] == "REQUEST"
    assert authorizer["IdentitySource"] == "method.request.header.Authorization"
    assert authorizer["AuthorizerResultTtlInSeconds"] == CONFIG.authorizer_cache_seconds > 0
    assert function_id(resources, "authorizer") in json.dumps(authorizer["AuthorizerUri"])


def test_the_anthropic_routes_authorizer_has_no_identity_source_and_no_cache_so_x_api_key_reaches_it(resources):
    """API Gateway calls a REQUEST authorizer only when all its identity sources are present: with Authorization
    as one, a request with only x-api-key (Anthropic's SDK) would be refused before the function could read it."""
    found = of_type(resources, "AWS::ApiGateway::Authorizer")
    authorizer = found[authorizers(resources)[1]]
    assert authorizer["Type"] == "REQUEST"
    assert "IdentitySource" not in authorizer
    assert authorizer["AuthorizerResultTtlInSeconds"] == 0
    assert function_id(resources, "authorizer") in json.dumps(authorizer["AuthorizerUri"])
    methods = methods_by_route(resources)
    anthropic = [r for r in ROUTES if r.path.startswith("/v1/messages/batches")]
    assert len(anthropic) == 5 and all(takes_x_api_key(r.path) for r in anthropic)
    assert not takes_x_api_key("/v1/messages/async") and not takes_x_api_key("/v1/batches")
    for route in anthropic:
        assert methods[(route.method, route.path)]["AuthorizerId"] == {"Ref": authorizers(resources)[1]}
        assert methods[(route.method, route.path)]["ApiKeyRequired"] is True


def test_stream_routes_stream_from_the_web_adapter_function_and_nothing_else_does(resources):
    methods = methods_by_route(resources)
    _, stream = functions_by_handler(resources)[HANDLERS["stream"]]
    streaming = [r for r in ROUTES if r.streaming]
    assert streaming, "at least the native /events route streams"
    for route in ROUTES:
        integration = methods[(route.method, route.path)]["Integration"]
        uri = json.dumps(integration["Uri"])
        if route.streaming:
            # The streaming function's SSE routes, and every route of the Responses function (an ASGI app too).
            assert route.function in WEB_APPS, route
            target_id, target = functions_by_handler(resources)[deployed_handler(route.function)]
            assert integration["Type"] == "AWS_PROXY"
            assert integration["ResponseTransferMode"] == "STREAM"
            assert "/response-streaming-invocations" in uri
            assert integration_target(methods[(route.method, route.path)]) == target_id
            assert target["Timeout"] * 1000 >= integration["TimeoutInMillis"]
        else:
            assert "ResponseTransferMode" not in integration
            assert "/response-streaming-invocations" not in uri

    (layer,) = stream["Layers"]
    layer_arn = "".join(p if isinstance(p, str) else "<region>" for p in layer["Fn::Join"][1])
    suffix = "Arm64" if CONFIG.architecture == "arm64" else "X86"
    assert layer_arn.endswith(f":753240598075:layer:LambdaAdapterLayer{suffix}:{CONFIG.web_adapter_layer_version}")
    env = stream["Environment"]["Variables"]
    assert env["AWS_LAMBDA_EXEC_WRAPPER"] == "/opt/bootstrap"
    assert env["AWS_LWA_INVOKE_MODE"] == "response_stream"
    assert env["AWS_LWA_READINESS_CHECK_PATH"] == "/healthz"
    # The app closes the stream itself before Lambda (and API Gateway) would cut it.
    assert float(env["ASYNCINFER_MAX_STREAM_SECONDS"]) < stream["Timeout"] <= 900


def test_stage_has_access_logs_and_default_throttling(resources):
    (stage,) = of_type(resources, "AWS::ApiGateway::Stage").values()
    assert stage["StageName"] == CONFIG.stage
    log_group = stage["AccessLogSetting"]["DestinationArn"]["Fn::GetAtt"][0]
    assert resources[log_group]["Type"] == "AWS::Logs::LogGroup"
    fields = json.loads(stage["AccessLogSetting"]["Format"])
    assert {"requestId", "status", "resourcePath", "ip"} <= set(fields)
    (settings,) = stage["MethodSettings"]
    assert (settings["HttpMethod"], settings["ResourcePath"]) == ("*", "/*")
    assert settings["ThrottlingRateLimit"] == CONFIG.api_throttle_rate
    assert settings["ThrottlingBurstLimit"] == CONFIG.api_throttle_burst
    (api,) = of_type(resources, "AWS::ApiGateway::RestApi").values()
    assert api["EndpointConfiguration"] == {"Types": ["REGIONAL"]}


def test_each_tenant_is_throttled_by_the_usage_plan_the_authorizer_names(resources):
    (api,) = of_type(resources, "AWS::ApiGateway::RestApi").values()
    assert api["ApiKeySourceType"] == "AUTHORIZER"
    (plan,) = of_type(resources, "AWS::ApiGateway::UsagePlan").values()
    assert plan["Throttle"] == {"RateLimit": CONFIG.tenant_rate_limit, "BurstLimit": CONFIG.tenant_burst_limit}
    assert "Quota" not in plan  # none unless tenant_daily_quota is set
    (stage_name,) = of_type(resources, "AWS::ApiGateway::Stage")
    ((api_name, _),) = of_type(resources, "AWS::ApiGateway::RestApi").items()
    (stage,) = plan["ApiStages"]
    assert stage["ApiId"] == {"Ref": api_name} and stage["Stage"] == {"Ref": stage_name}
    # Clients never hold gateway keys: the stack creates none, `asyncinfer keys create` adds them per tenant.
    assert not of_type(resources, "AWS::ApiGateway::ApiKey")


def test_gateway_responses_answer_json_in_the_same_shape_as_the_functions(resources):
    responses = {r["ResponseType"]: r for r in of_type(resources, "AWS::ApiGateway::GatewayResponse").values()}
    assert responses["UNAUTHORIZED"]["StatusCode"] == "401"
    assert json.loads(responses["UNAUTHORIZED"]["ResponseTemplates"]["application/json"]) == UNAUTHORIZED
    # An unknown route is "Missing Authentication Token" (403) on a REST API; clients get the dev server's 404.
    missing = responses["MISSING_AUTHENTICATION_TOKEN"]
    assert missing["StatusCode"] == "404"
    assert json.loads(missing["ResponseTemplates"]["application/json"]) == ROUTE_NOT_FOUND
    assert responses["QUOTA_EXCEEDED"]["StatusCode"] == "429"
    assert responses["INVALID_API_KEY"]["StatusCode"] == "403"
    for kind in ("ACCESS_DENIED", "THROTTLED", "DEFAULT_4XX", "DEFAULT_5XX"):
        assert kind in responses
    for response in responses.values():
        body = response["ResponseTemplates"]["application/json"].replace("$context.error.messageString", '"m"')
        error = json.loads(body)["error"]
        assert set(error) == {"code", "message"} and error["code"]


def assert_api_function_rights(api, lanes):
    assert {a for a in actions_of(api) if a.startswith("dynamodb:")} == {
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
        "dynamodb:Query",
    }
    sends = [s for s in api if "sqs:SendMessage" in actions_of([s])]
    assert [s["Resource"] for s in sends] == [{"Fn::GetAtt": [lane, "Arn"]} for lane in lanes]
    s3_grants = {a: json.dumps(s["Resource"]) for s in api for a in actions_of([s]) if a.startswith("s3:")}
    assert set(s3_grants) == {"s3:PutObject", "s3:GetObject", "s3:DeleteObject"}
    assert "/requests/*" in s3_grants["s3:PutObject"]
    assert "/results/*" in s3_grants["s3:GetObject"] and "/outputs/*" in s3_grants["s3:GetObject"]
    # Deleting a task purges its objects: only under the task prefixes, never the bucket's other keys.
    assert all(f"/{prefix}*" in s3_grants["s3:DeleteObject"] for prefix in ("requests/", "results/", "outputs/"))
    assert s3_grants["s3:DeleteObject"].count("/*") == 3


def test_api_functions_get_only_what_they_use_and_can_never_read_the_dead_letters(resources):
    dlq = queue_id(resources, "DeadLetters")
    api_functions = sorted({r.function for r in ROUTES if r.function.startswith("api_")} - {"api_docs"})
    assert {"api_async", "api_perplexity", "api_privategpt", "api_netmind"} <= set(api_functions)
    for name in (*api_functions, "api_docs", "authorizer", "stream"):
        statements = policy_statements_of(resources, function_id(resources, name))
        assert dlq not in json.dumps(statements), f"{name} can reach the dead-letter queue"
        actions = actions_of(statements)
        assert "sqs:ReceiveMessage" not in actions and "sqs:DeleteMessage" not in actions
        assert not {"dynamodb:DeleteTable", "dynamodb:Scan", "s3:DeleteBucket"} & actions
        assert not any(a.startswith("secretsmanager:") for a in actions)
        # Listing only where the Files API keeps uploads and batch files, and only the batches function.
        for statement in statements:
            if "s3:ListBucket" in json.dumps(statement.get("Action")):
                assert name == "api_batches"
                assert statement["Condition"] == {"StringLike": {"s3:prefix": ["batches/*", "uploads/*"]}}

    for name in ("api_async", "api_perplexity", "api_privategpt", "api_netmind"):
        lanes = [queue_id(resources, q) for q in ("PriorityTasks", "Tasks", "FlexTasks")]
        assert_api_function_rights(policy_statements_of(resources, function_id(resources, name)), lanes)

    docs = actions_of(policy_statements_of(resources, function_id(resources, "api_docs")))
    assert not {a for a in docs if a.split(":")[0] in {"dynamodb", "s3", "sqs"}}, "the public docs touch no data"

    authorizer = actions_of(policy_statements_of(resources, function_id(resources, "authorizer")))
    assert {a for a in authorizer if a.split(":")[0] in {"dynamodb", "s3", "sqs"}} == {"dynamodb:GetItem"}
    stream = actions_of(policy_statements_of(resources, function_id(resources, "stream")))
    # Reads the task and its log; puts and deletes only its tenant's stream leases (the cap on open streams).
    assert {a for a in stream if a.split(":")[0] in {"dynamodb", "s3", "sqs"}} == {
        "dynamodb:GetItem",
        "dynamodb:Query",
        "dynamodb:PutItem",
        "dynamodb:DeleteItem",
    }


def test_only_api_gateway_may_invoke_the_api_functions(resources):
    permissions = of_type(resources, "AWS::Lambda::Permission").values()
    (rest_api,) = of_type(resources, "AWS::ApiGateway::RestApi")
    for name in {r.function for r in ROUTES} | {"authorizer"}:
        mine = [p for p in permissions if p["FunctionName"] == {"Fn::GetAtt": [function_id(resources, name), "Arn"]}]
        assert mine, name
        for permission in mine:
            assert permission["Principal"] == "apigateway.amazonaws.com"
            assert {"Ref": rest_api} in permission["SourceArn"]["Fn::Join"][1]
