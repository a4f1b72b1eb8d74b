"""The Responses function on AWS: every /v1/responses route integrated in streaming mode with it, run by Lambda Web
Adapter (its start script, the adapter's layer and settings), with a task surface's rights and none beyond."""

import json

import pytest

from asyncinfer.routes import ROUTES
from infra.components.responses_function import SCRIPT
from tests.infra.helpers import actions_of, functions_by_handler, of_type, policy_statements_of, resolve_handler

pytestmark = pytest.mark.infra

RESPONSES_ROUTES = {
    ("POST", "/v1/responses"),
    ("GET", "/v1/responses/{id}"),
    ("POST", "/v1/responses/{id}/cancel"),
    ("DELETE", "/v1/responses/{id}"),
    ("GET", "/v1/responses/{id}/input_items"),
}


def test_every_responses_route_streams_from_the_responses_function(resources):
    assert {(r.method, r.path) for r in ROUTES if r.function == "api_responses"} == RESPONSES_ROUTES
    function_id, function = functions_by_handler(resources)[SCRIPT]
    methods = of_type(resources, "AWS::ApiGateway::Method").values()
    integrated = [m for m in methods if function_id in json.dumps(m["Integration"].get("Uri", ""))]
    assert len(integrated) == len(RESPONSES_ROUTES)
    for method in integrated:
        integration = method["Integration"]
        assert integration["Type"] == "AWS_PROXY" and integration["ResponseTransferMode"] == "STREAM"
        assert "/response-streaming-invocations" in json.dumps(integration["Uri"])
        assert function["Timeout"] * 1000 >= integration["TimeoutInMillis"]
        assert method["AuthorizationType"] == "CUSTOM" and method["ApiKeyRequired"] is True


def test_lambda_web_adapter_runs_the_responses_app(resources):
    _, function = functions_by_handler(resources)[SCRIPT]
    env = function["Environment"]["Variables"]
    assert env["AWS_LAMBDA_EXEC_WRAPPER"] == "/opt/bootstrap" and env["AWS_LWA_INVOKE_MODE"] == "response_stream"
    assert env["AWS_LWA_READINESS_CHECK_PATH"] == "/healthz"
    (layer,) = function["Layers"]
    assert "LambdaAdapterLayer" in json.dumps(layer)
    module, web = resolve_handler(SCRIPT)
    assert module.__name__ == "asyncinfer.handlers.api_responses" and web is module.web


def test_the_responses_function_has_a_task_surfaces_rights(resources):
    function_id, _ = functions_by_handler(resources)[SCRIPT]
    (async_id, _) = functions_by_handler(resources)["asyncinfer.handlers.api_async.lambda_handler"]
    ours = actions_of(policy_statements_of(resources, function_id))
    theirs = actions_of(policy_statements_of(resources, async_id))
    data = {a for a in ours if a.split(":")[0] in {"dynamodb", "s3", "sqs", "kms"}}
    assert data == {a for a in theirs if a.split(":")[0] in {"dynamodb", "s3", "sqs", "kms"}}
    assert "sqs:ReceiveMessage" not in ours and "kms:Decrypt" not in ours
