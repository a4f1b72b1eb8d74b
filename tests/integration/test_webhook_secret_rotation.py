"""Rotating the webhook signing secret: the previous secret keeps signing every delivery for a grace period
(both signatures in `webhook-signature`, as Standard Webhooks allows), then only the new one does. Real
handlers on moto, a real receiver on loopback, and the services' clocks moved instead of sleeping."""

from datetime import UTC, datetime

import pytest
from asyncinfer_client.webhooks import unwrap
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from asyncinfer.domain.model import now_ms
from asyncinfer.handlers import api_webhooks, webhook_sender
from tests.integration.test_webhooks import secret, submit
from tests.support.webhook_receiver import Received, WebhookReceiver

pytestmark = pytest.mark.integration

# Short enough that an attempt made just after it ends carries a webhook-timestamp within the receiver's
# 5-minute tolerance of the real clock the library verifies against.
GRACE_SECONDS = 120


def rotate(aws) -> dict:
    status, body = aws.api("POST", "/v1/webhooks/secret/rotate", function="api_webhooks")
    assert status == 200, body
    return body


def read_secret(aws) -> dict:
    status, body = aws.api("GET", "/v1/webhooks/secret", function="api_webhooks")
    assert status == 200, body
    return body


def ms(stamp: str) -> int:
    return int(datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp() * 1000)


def verifies(secret: str, hit: Received) -> bool:
    try:
        Webhook(secret).verify(hit.body, hit.headers)
    except WebhookVerificationError as exc:
        assert "No matching signature" in str(exc)  # not a timestamp or header problem
        return False
    return True


def queue_delivery(aws, url: str) -> None:
    """A task ends and its delivery is queued; nothing is sent (or signed) yet."""
    submit(aws, url)
    aws.run_worker()
    aws.run_notifier()


def test_after_a_rotation_deliveries_verify_with_the_old_and_the_new_secret_until_the_grace_period_ends(
    aws, monkeypatch
):
    monkeypatch.setenv("ASYNCINFER_WEBHOOK_SECRET_GRACE_SECONDS", str(GRACE_SECONDS))
    old = secret(aws)
    assert read_secret(aws).get("previous_secret_expires_at") is None
    with WebhookReceiver() as receiver:
        queue_delivery(aws, receiver.url)
        before = now_ms()
        rotated = rotate(aws)
        new = rotated["secret"]
        assert new.startswith("whsec_") and new != old

        # Queued before the rotation, sent after it: signed with both secrets.
        aws.run_queue("webhook_sender")
        [during] = receiver.wait_for(1)
        assert verifies(new, during)
        assert verifies(old, during)
        assert len(during.headers["webhook-signature"].split(" ")) == 2
        assert unwrap(during.body, during.headers, old) == unwrap(during.body, during.headers, new)
        expires = ms(rotated["previous_secret_expires_at"])
        assert before + GRACE_SECONDS * 1000 - 1000 <= expires <= now_ms() + GRACE_SECONDS * 1000
        assert read_secret(aws) == rotated

        # The grace period is over: a redelivery is signed with the new secret only.
        later = now_ms() + (GRACE_SECONDS + 1) * 1000
        monkeypatch.setattr(webhook_sender.sender(), "clock", lambda: later)
        monkeypatch.setattr(api_webhooks.webhooks(), "clock", lambda: later)
        assert read_secret(aws) == {"secret": new, "previous_secret_expires_at": None}
        status, listing = aws.api("GET", "/v1/webhooks/deliveries", function="api_webhooks")
        [delivery] = listing["data"]
        status, again = aws.api("POST", f"/v1/webhooks/deliveries/{delivery['id']}/redeliver", function="api_webhooks")
        assert status == 200, again
        aws.run_queue("webhook_sender")
        after = receiver.wait_for(2)[1]
    assert after.headers["webhook-id"] == during.headers["webhook-id"]
    assert len(after.headers["webhook-signature"].split(" ")) == 1
    assert verifies(new, after)
    assert not verifies(old, after)


def test_a_second_rotation_within_the_grace_period_drops_the_oldest_secret(aws):
    first = secret(aws)
    second = rotate(aws)["secret"]
    before = now_ms()
    third = rotate(aws)
    with WebhookReceiver() as receiver:
        queue_delivery(aws, receiver.url)
        aws.run_queue("webhook_sender")
        [hit] = receiver.wait_for(1)
    assert verifies(third["secret"], hit)
    assert verifies(second, hit)
    assert not verifies(first, hit)
    assert len(hit.headers["webhook-signature"].split(" ")) == 2
    # The default grace period, a day, counted again from the second rotation.
    assert before + 86_399_000 <= ms(third["previous_secret_expires_at"]) <= now_ms() + 86_400_000


def test_with_no_grace_period_the_previous_secret_stops_signing_at_once(aws, monkeypatch):
    monkeypatch.setenv("ASYNCINFER_WEBHOOK_SECRET_GRACE_SECONDS", "0")
    old = secret(aws)
    rotated = rotate(aws)
    assert rotated["previous_secret_expires_at"] is None
    with WebhookReceiver() as receiver:
        queue_delivery(aws, receiver.url)
        aws.run_queue("webhook_sender")
        [hit] = receiver.wait_for(1)
    assert verifies(rotated["secret"], hit)
    assert not verifies(old, hit)
