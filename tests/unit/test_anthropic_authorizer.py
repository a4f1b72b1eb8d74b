"""The authorizer reads the key from `Authorization` (Bearer, or bare) or, as Anthropic's SDK sends it, from
`x-api-key`; Authorization wins when both are sent."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from asyncinfer.handlers import authorizer
from asyncinfer.store.base import ApiKeyRecord
from asyncinfer.tasks.keys import hash_key, presented_key, takes_x_api_key

ARN = "arn:aws:execute-api:us-east-1:000000000000:api/dev/GET/v1/messages/batches"


@pytest.mark.parametrize(
    ("headers", "key"),
    [
        ({"Authorization": "Bearer ai_a"}, "ai_a"),
        ({"x-api-key": "ai_b"}, "ai_b"),
        ({"X-Api-Key": " ai_b "}, "ai_b"),
        ({"authorization": "Bearer ai_a", "x-api-key": "ai_b"}, "ai_a"),
        # Authorization sent but not a key: it still wins, so the request is refused rather than let in by the other.
        ({"Authorization": "Basic Zm9vOmJhcg==", "x-api-key": "ai_b"}, None),
        ({"Authorization": "", "x-api-key": "ai_b"}, "ai_b"),
        ({"x-api-key": ""}, None),
        ({}, None),
        (None, None),
    ],
)
def test_presented_key_takes_authorization_first_then_x_api_key(headers, key):
    assert presented_key(headers) == key


def test_only_the_message_batch_routes_take_x_api_key_at_the_gateway():
    assert takes_x_api_key("/v1/messages/batches") and takes_x_api_key("/v1/messages/batches/{id}/cancel")
    assert not takes_x_api_key("/v1/messages/batchesx") and not takes_x_api_key("/v1/messages/async")
    assert not takes_x_api_key("/v1/batches/{id}")


class Keys:
    def __init__(self, **tenants: str) -> None:
        self.records = {
            hash_key(key): ApiKeyRecord(key_hash=hash_key(key), tenant=t, created_at=0) for key, t in tenants.items()
        }

    def get_api_key(self, digest: str) -> ApiKeyRecord | None:
        return self.records.get(digest)


@pytest.fixture
def keys(monkeypatch):
    fake = Keys(ai_alpha="alpha", ai_beta="beta")
    monkeypatch.setattr(authorizer, "store", lambda: fake)
    return fake


def call(headers: dict[str, str]) -> dict:
    event = {"type": "REQUEST", "methodArn": ARN, "headers": headers, "requestContext": {"requestId": "r1"}}
    context = SimpleNamespace(
        function_name="authorizer",
        memory_limit_in_mb=128,
        invoked_function_arn="arn:aws:lambda:us-east-1:000000000000:function:authorizer",
        aws_request_id="r1",
    )
    return authorizer.lambda_handler(event, context)


@pytest.mark.parametrize(
    ("headers", "tenant"),
    [
        ({"Authorization": "Bearer ai_alpha"}, "alpha"),
        ({"x-api-key": "ai_beta", "anthropic-version": "2023-06-01"}, "beta"),
        ({"Authorization": "Bearer ai_alpha", "X-Api-Key": "ai_beta"}, "alpha"),
    ],
)
def test_the_authorizer_allows_a_key_from_either_header(keys, headers, tenant):
    policy = call(headers)
    assert policy["principalId"] == tenant and policy["context"] == {"tenant": tenant}
    assert policy["policyDocument"]["Statement"][0]["Effect"] == "Allow"


@pytest.mark.parametrize(
    "headers", [{"x-api-key": "ai_nope"}, {"Authorization": "Bearer ai_nope", "x-api-key": "ai_beta"}, {}]
)
def test_the_authorizer_refuses_an_unknown_or_missing_key(keys, headers):
    with pytest.raises(Exception, match=r"^Unauthorized$"):
        call(headers)
