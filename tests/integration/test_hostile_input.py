"""Input that used to answer 500 is a 400 JSON error that changes nothing: deep nesting, lone surrogates,
NaN, and limits or event ids written with non-ASCII digits."""

import json
import time

import pytest

from asyncinfer.handlers import stream as stream_handler
from tests.integration.conftest import REFERENCE_BODY
from tests.integration.test_sample_events import through_web_adapter

pytestmark = pytest.mark.integration

CHAT = '{"model": "demo-chat", "messages": [{"role": "user", "content": %s}]%s}'
SUBMITS = [
    ("/v1/async", "api_async"),
    ("/v1/messages/async", "api_privategpt"),
    ("/v1/batches", "api_batches"),
]
BODIES = {
    "nested 100000 deep": CHAT % ('"hi"', ', "x": ' + "[" * 100_000 + "]" * 100_000),
    "nested 100 deep": CHAT % ('"hi"', ', "x": ' + "[" * 100 + "]" * 100),
    "lone surrogate": CHAT % ('"\\ud800"', ""),
    "NaN": CHAT % ('"hi"', ', "temperature": NaN'),
    "Infinity": CHAT % ('"hi"', ', "temperature": -Infinity'),
}


@pytest.mark.parametrize("name", BODIES)
@pytest.mark.parametrize(("path", "function"), SUBMITS)
def test_hostile_json_is_a_400_and_stores_nothing(aws, name, path, function):
    status, body = aws.api("POST", path, body=BODIES[name], function=function)
    assert status == 400 and body["error"]["code"] == "invalid_json", body
    assert aws.queue_depth() == 0 and aws.queue_depth(aws.resources.batch_queue_url) == 0


def test_a_perplexity_body_with_a_lone_surrogate_is_a_400(aws):
    body = '{"request": ' + CHAT % ('"\\udfff"', "") + "}"
    status, answer = aws.api("POST", "/async/chat/completions", body=body, function="api_perplexity")
    assert status == 400 and answer["error"]["code"] == "invalid_json"


LISTS = [
    ("/v1/async", "api_async"),
    ("/async/chat/completions", "api_perplexity"),
    ("/v1/generation", "api_netmind"),
    ("/v1/batches", "api_batches"),
    ("/v1/webhooks/deliveries", "api_webhooks"),
]


@pytest.mark.parametrize(("path", "function"), LISTS)
@pytest.mark.parametrize("limit", ["²", "٣", "1e3", "-1", " 5"])
def test_a_limit_that_is_not_ascii_digits_is_a_400_on_every_list(aws, path, function, limit):
    status, body = aws.api("GET", path, query={"limit": limit}, function=function)
    assert status == 400 and body["error"]["code"] == "invalid_request", body


@pytest.mark.parametrize("value", ["²", "١٢"])
def test_a_last_event_id_that_is_not_ascii_digits_is_a_400_json_error(aws, event, value):
    _, created = aws.api("POST", "/v1/async", body=REFERENCE_BODY)
    stream = event("stream_async_events")
    del stream["headers"]["Last-Event-ID"]  # the query parameter is the resume point here
    stream["path"] = f"/v1/async/{created['id']}/events"
    stream["pathParameters"]["id"] = created["id"]
    stream["queryStringParameters"] = {"last_event_id": value}
    response = through_web_adapter(stream)
    assert response.status_code == 400
    assert json.loads(response.text)["error"]["code"] == "invalid_last_event_id"


def stream_request(event, task_public_id: str, tenant: str = "acme") -> dict:
    stream = event("stream_async_events")
    stream["path"] = f"/v1/async/{task_public_id}/events"
    stream["pathParameters"]["id"] = task_public_id
    stream["requestContext"]["authorizer"].update(tenant=tenant, principalId=tenant)
    return stream


def test_a_tenant_at_its_stream_cap_gets_a_429_others_do_not_and_ended_streams_give_back_their_place(
    aws, event, monkeypatch
):
    monkeypatch.setenv("ASYNCINFER_MAX_STREAMS_PER_TENANT", "2")
    stream_handler.settings.cache_clear()
    now = int(time.time())
    for lease in ("a", "b"):  # two streams of acme's still open (on other instances)
        assert aws.store.hold_instance("streams", "acme", lease, until=now + 900, limit=2, now=now)
    _, created = aws.api("POST", "/v1/async", body=REFERENCE_BODY)
    aws.run_worker()  # ended: its stream replays and closes
    refused = through_web_adapter(stream_request(event, created["id"]))
    assert refused.status_code == 429 and refused.headers["retry-after"] == "5"
    assert json.loads(refused.text)["error"]["code"] == "too_many_streams"
    # Another tenant is not counted against acme's cap.
    _, theirs = aws.api("POST", "/v1/async", tenant="globex", body=REFERENCE_BODY)
    aws.run_worker()
    assert through_web_adapter(stream_request(event, theirs["id"], tenant="globex")).status_code == 200
    # A lease past its time (a crashed instance's) does not count; a finished stream gives its place back.
    aws.store.free_instance("streams", "acme", "a")
    assert aws.store.hold_instance("streams", "acme", "stale", until=now - 1, limit=2, now=now)
    for _ in range(3):
        assert through_web_adapter(stream_request(event, created["id"])).status_code == 200
