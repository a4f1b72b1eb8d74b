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


@pytest.fixture
def inflight(aws, monkeypatch):
    monkeypatch.setenv("ASYNCINFER_MAX_INFLIGHT_TASKS", "2")
    shared.service.cache_clear()
    return aws


def test_over_the_in_flight_quota_is_a_429_until_a_task_ends(inflight):
    first = submit(inflight)
    second = submit(inflight, key="second")
    assert (first[0], second[0]) == (200, 200)
    status, body, headers = submit(inflight)
    assert status == 429 and body["error"]["code"] == "too_many_in_flight"
    assert int(headers["Retry-After"]) >= 1
    assert len(inflight.store.list("acme", limit=10, after=None, status=None).tasks) == 2
    assert inflight.queue_depth() == 2
    # Another tenant is not held back; a replay of a key is not a new task.
    assert submit(inflight, tenant="other")[0] == 200
    assert submit(inflight, key="second")[1]["id"] == second[1]["id"]
    # A cancel ends a task and frees its place at once.
    cancelled = inflight.api("POST", f"/v1/async/{first[1]['id']}/cancel")
    assert cancelled[0] == 200 and inflight.store.count_inflight("acme", 10) == 1
    third = submit(inflight)
    assert third[0] == 200
    assert submit(inflight)[0] == 429
    # So does a completion by the worker.
    inflight.run_worker()
    assert inflight.store.count_inflight("acme", 10) == 0
    assert [submit(inflight)[0] for _ in range(3)] == [200, 200, 429]


def test_the_in_flight_count_stops_at_the_limit_it_is_asked_for(inflight):
    assert [submit(inflight, tenant="many")[0] for _ in range(2)] == [200, 200]
    assert inflight.store.count_inflight("many", 1) == 1
    assert inflight.store.count_inflight("many", 5) == 2
    assert inflight.store.count_inflight("nobody", 5) == 0


def test_far_below_the_limit_an_instance_recounts_only_now_and_then(aws, monkeypatch):
    monkeypatch.setenv("ASYNCINFER_MAX_INFLIGHT_TASKS", "100")
    shared.service.cache_clear()
    service = shared.service()
    counted = []
    real = service.store.count_inflight
    monkeypatch.setattr(service.store, "count_inflight", lambda *a: counted.append(a) or real(*a))
    assert [submit(aws)[0] for _ in range(12)] == [200] * 12
    # One submit counts, the next ones ride on that count while fewer than headroom // 20 (5, then 4)
    # were admitted since: 12 submits, 3 counts...
    assert len(counted) == 3
    # ... and a second later the count is read again, whatever the headroom.
    monkeypatch.setattr("asyncinfer.tasks.admission.INFLIGHT_RECOUNT_SECONDS", 0)
    submit(aws)
    assert len(counted) == 4
