"""The client's pure parts: webhook verification, the SSE parser, the retry policy, the poll hint."""

import base64
import json
import time

import pytest
from asyncinfer_client import InvalidRequest, RateLimited, ServiceUnavailable, unwrap
from asyncinfer_client._core import Retry, poll_delay
from asyncinfer_client.events import Parser
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

SECRET = "whsec_" + base64.b64encode(b"k" * 32).decode()


def signed(payload: dict, secret: str = SECRET) -> tuple[str, dict]:
    body = json.dumps(payload)
    stamp = int(time.time())
    headers = {"webhook-id": "msg_1", "webhook-timestamp": str(stamp)}
    headers["webhook-signature"] = Webhook(secret).sign("msg_1", _dt(stamp), body)
    return body, headers


def _dt(stamp: int):
    from datetime import UTC, datetime

    return datetime.fromtimestamp(stamp, UTC)


def test_unwrap_returns_the_event_of_a_delivery_signed_with_the_secret():
    body, headers = signed({"type": "task.completed", "data": {"id": "task_1"}})
    assert unwrap(body.encode(), headers, SECRET) == {"type": "task.completed", "data": {"id": "task_1"}}


def test_unwrap_refuses_another_secret_or_a_changed_body():
    body, headers = signed({"type": "task.completed"})
    other = "whsec_" + base64.b64encode(b"o" * 32).decode()
    with pytest.raises(WebhookVerificationError):
        unwrap(body, headers, other)
    with pytest.raises(WebhookVerificationError):
        unwrap(body.replace("completed", "failed"), headers, SECRET)


def test_the_parser_makes_events_of_lines_and_skips_keepalives():
    parser = Parser()
    lines = ["retry: 1000", ": keep-alive", "id: 7", "event: delta", 'data: {"seq":7,"text":"Hi"}', ""]
    events = [e for e in (parser.feed(line) for line in lines) if e is not None]
    assert [(e.seq, e.type, e.text) for e in events] == [(7, "delta", "Hi")]


def test_retries_are_bounded_and_only_for_what_may_be_sent_again():
    retry = Retry(attempts=2, base=0.1, cap=1)
    assert retry.delay(0, ServiceUnavailable(503, "x", "y")) is not None
    assert retry.delay(0, RateLimited(429, "rate_limited", "slow", retry_after=3)) == 3
    assert retry.delay(0, InvalidRequest(400, "invalid_request", "no")) is None
    assert retry.delay(2, ServiceUnavailable(503, "x", "y")) is None


def test_the_poll_hint_is_read_in_milliseconds():
    assert poll_delay({"OpenAI-Poll-After-Ms": "5000"}, 1.0) == 5.0
    assert poll_delay({}, 1.0) == 1.0
