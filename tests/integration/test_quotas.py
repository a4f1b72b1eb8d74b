"""Per-tenant submit quota: over it, a 429 with Retry-After, and nothing stored or queued."""

import json

import pytest

from asyncinfer.handlers import shared
from tests.conftest import load_event
from tests.integration.conftest import REFERENCE_BODY

pytestmark = pytest.mark.integration


@pytest.fixture
def quota(aws, monkeypatch):
    monkeypatch.setenv("ASYNCINFER_SUBMITS_PER_WINDOW", "3")
    monkeypatch.setenv("ASYNCINFER_SUBMIT_WINDOW_SECONDS", "60")
    shared.service.cache_clear()
    return aws


def submit(aws, tenant="acme", key=None):
    event = load_event("api_async_submit")
    event["requestContext"]["authorizer"].update(tenant=tenant, principalId=tenant)
    if key:
        event["headers"]["Idempotency-Key"] = key
    result = aws.functions.invoke("api_async", event)
    headers = {
        **(result.get("headers") or {}),
        **{k: v[-1] for k, v in (result.get("multiValueHeaders") or {}).items()},
    }
    return result["statusCode"], json.loads(result["body"]), headers


def test_over_the_quota_is_a_429_with_retry_after_and_changes_nothing(quota):
    first = submit(quota, key="first")
    assert [first[0]] + [submit(quota)[0] for _ in range(2)] == [200, 200, 200]
    status, body, headers = submit(quota)
    assert status == 429 and body["error"]["code"] == "rate_limited"
    assert 1 <= int(headers["Retry-After"]) <= 60
    assert len(quota.store.list("acme", limit=10, after=None, status=None).tasks) == 3
    assert quota.queue_depth() == 3
    # Another tenant has its own quota; replaying an earlier idempotency key is not a new submit.
    assert submit(quota, tenant="other")[0] == 200
    replay = submit(quota, key="first")
    assert replay[0] == 200 and replay[1]["id"] == first[1]["id"]


def test_no_quota_when_turned_off(aws, monkeypatch):
    monkeypatch.setenv("ASYNCINFER_SUBMITS_PER_WINDOW", "0")
    shared.service.cache_clear()
    assert all(aws.api("POST", "/v1/async", body=REFERENCE_BODY)[0] == 200 for _ in range(5))
