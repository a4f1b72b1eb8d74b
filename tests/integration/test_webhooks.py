"""Webhooks end to end inside the functions: a submit with a webhook, the worker ending it, the table
stream's notifier announcing it, the sender delivering to a real HTTP receiver on loopback."""

import json
import time
import tracemalloc

import pytest
from standardwebhooks.webhooks import Webhook

from asyncinfer.domain.model import TaskStatus, now_ms
from asyncinfer.domain.submission import MESSAGE_ID
from asyncinfer.handlers import notifier, shared, webhook_sender
from asyncinfer.store.base import AlreadyExists, ApiKeyRecord, NameClaim
from asyncinfer.surfaces.async_api import internal_id
from infra.local.poller import Poller
from tests.integration.conftest import REFERENCE_BODY
from tests.support.webhook_receiver import HostileReceiver, WebhookReceiver

pytestmark = pytest.mark.integration


def submit(aws, url, **webhook):
    status, task = aws.api("POST", "/v1/async", body={**REFERENCE_BODY, "webhook": {"url": url, **webhook}})
    assert status == 200, task
    return task


def finish(aws) -> None:
    """Run the task, then what its ending sets off: the stream's notifier, then the webhook queue."""
    aws.run_worker()
    aws.run_notifier()
    aws.run_queue("webhook_sender")


def secret(aws) -> str:
    status, body = aws.api("GET", "/v1/webhooks/secret", function="api_webhooks")
    assert status == 200 and body["secret"].startswith("whsec_")
    return body["secret"]


def test_a_completed_task_is_delivered_once_signed_per_standard_webhooks(aws):
    with WebhookReceiver() as receiver:
        task = submit(aws, receiver.url)
        finish(aws)
        [hit] = receiver.wait_for(1)
    payload = Webhook(secret(aws)).verify(hit.body, hit.headers)
    assert payload["type"] == "task.completed"
    assert payload["data"]["id"] == task["id"] and payload["data"]["status"] == "COMPLETED"
    assert hit.headers["webhook-id"] == f"msg_{task['id'].removeprefix('task_').replace('-', '')}_task_completed"
    status, listing = aws.api("GET", "/v1/webhooks/deliveries", query={"task_id": task["id"]}, function="api_webhooks")
    assert status == 200
    [delivery] = listing["data"]
    assert delivery["status"] == "delivered" and delivery["attempt_count"] == 1
    assert delivery["attempts"][0]["status_code"] == 204
    # A stream record handled twice (they come at least once) announces nothing new.
    notifier.endings().task_ended(aws.store.get("acme", internal_id(task["id"])))
    assert aws.queue_depth(aws.resources.webhook_queue_url) == 0


def test_a_signature_made_with_another_secret_is_rejected(aws):
    with WebhookReceiver() as receiver:
        submit(aws, receiver.url)
        finish(aws)
        [hit] = receiver.wait_for(1)
    status, rotated = aws.api("POST", "/v1/webhooks/secret/rotate", function="api_webhooks")
    assert status == 200
    with pytest.raises(Exception, match="No matching signature"):
        Webhook(rotated["secret"]).verify(hit.body, hit.headers)


def test_events_the_webhook_did_not_ask_for_are_not_sent(aws):
    with WebhookReceiver() as receiver:
        task = submit(aws, receiver.url, events=["task.failed"])
        finish(aws)
        assert receiver.received == []
    status, listing = aws.api("GET", "/v1/webhooks/deliveries", query={"task_id": task["id"]}, function="api_webhooks")
    assert status == 200 and listing["data"] == []


def test_a_failing_receiver_is_retried_with_the_same_id_then_recorded_as_failed(aws, monkeypatch):
    monkeypatch.setenv("ASYNCINFER_WEBHOOK_MAX_ATTEMPTS", "3")
    delays = []

    def back_off_now(record, *, base, cap):
        # The sender holds a failed message back (1 s, then up to 2 s, ...); here it comes back at once.
        delays.append(base)
        aws.sqs.change_message_visibility(
            QueueUrl=aws.resources.webhook_queue_url, ReceiptHandle=record.receipt_handle, VisibilityTimeout=0
        )

    monkeypatch.setattr(webhook_sender, "back_off", back_off_now)
    with WebhookReceiver(statuses=[500]) as receiver:
        task = submit(aws, receiver.url)
        aws.run_worker()
        aws.run_notifier()
        aws.run_queue("webhook_sender")
        hits = receiver.wait_for(3)
    assert len(delays) == 2  # the third failure is the last: recorded, not retried
    assert len(hits) == 3
    assert len({h.headers["webhook-id"] for h in hits}) == 1
    assert len({h.body for h in hits}) == 1
    status, listing = aws.api("GET", "/v1/webhooks/deliveries", query={"task_id": task["id"]}, function="api_webhooks")
    assert status == 200, listing
    [delivery] = listing["data"]
    assert delivery["status"] == "failed" and delivery["attempt_count"] == 3
    assert [a["status_code"] for a in delivery["attempts"]] == [500, 500, 500]
    assert aws.queue_depth(aws.resources.webhook_queue_url) == 0


def test_redeliver_starts_a_new_round_and_keeps_the_history(aws, monkeypatch):
    monkeypatch.setenv("ASYNCINFER_WEBHOOK_MAX_ATTEMPTS", "1")
    with WebhookReceiver(statuses=[503, 200]) as receiver:
        task = submit(aws, receiver.url)
        finish(aws)
        status, listing = aws.api(
            "GET", "/v1/webhooks/deliveries", query={"task_id": task["id"]}, function="api_webhooks"
        )
        [delivery] = listing["data"]
        assert delivery["status"] == "failed"
        path = f"/v1/webhooks/deliveries/{delivery['id']}/redeliver"
        status, again = aws.api("POST", path, function="api_webhooks")
        assert status == 200 and again["status"] == "pending"
        status, refused = aws.api("POST", path, function="api_webhooks")
        assert status == 409 and refused["error"]["code"] == "delivery_pending"
        aws.run_queue("webhook_sender")
        hits = receiver.wait_for(2)
    assert hits[0].headers["webhook-id"] == hits[1].headers["webhook-id"]
    status, done = aws.api("GET", f"/v1/webhooks/deliveries/{delivery['id']}", function="api_webhooks")
    assert done["status"] == "delivered" and [a["status_code"] for a in done["attempts"]] == [503, 200]
    assert json.loads(done["payload"])["data"]["id"] == task["id"]


@pytest.mark.parametrize(
    ("webhook", "message"),
    [
        ({"url": "http://169.254.169.254/latest/meta-data"}, "link-local or metadata"),
        ({"url": "file:///etc/passwd"}, "must start with https:// (or http://)"),
        ({"url": "https://hooks.example.com/x", "events": ["task.exploded"]}, "unknown event"),
        ({"url": "https://hooks.example.com/x", "secret": "mine"}, "webhook.secret"),
    ],
)
def test_a_bad_webhook_is_a_400_and_creates_nothing(aws, webhook, message):
    status, body = aws.api("POST", "/v1/async", body={**REFERENCE_BODY, "webhook": webhook})
    assert status == 400 and message in body["error"]["message"], body
    assert aws.queue_depth() == 0


def test_a_private_receiver_is_refused_when_the_deployment_does_not_allow_it(aws, monkeypatch):
    with WebhookReceiver() as receiver:
        task = submit(aws, receiver.url)  # accepted while the API allowed it; the sender checks again
        monkeypatch.setenv("ASYNCINFER_WEBHOOK_ALLOW_PRIVATE", "false")
        webhook_sender.sender.cache_clear()
        finish(aws)
        assert receiver.received == []
    status, listing = aws.api("GET", "/v1/webhooks/deliveries", query={"task_id": task["id"]}, function="api_webhooks")
    assert status == 200, listing
    [delivery] = listing["data"]
    assert delivery["status"] == "failed" and "private address" in delivery["attempts"][0]["error"]


def test_a_notifier_that_fails_midway_is_retried_and_the_event_still_goes_out_once(aws):
    """The delivery is recorded, then queueing it fails: the stream record is retried, finds the
    delivery never attempted, and queues it again."""
    queue = notifier.endings().webhooks.queue
    send = queue.send
    failures = []

    def flaky_send(message):
        if not failures:
            failures.append(message)
            raise ConnectionError("SQS unreachable")
        send(message)

    queue.send = flaky_send
    with WebhookReceiver() as receiver:
        task = submit(aws, receiver.url)
        finish(aws)
        [hit] = receiver.wait_for(1)
    assert failures, "the fault was injected"
    assert Webhook(secret(aws)).verify(hit.body, hit.headers)["data"]["id"] == task["id"]
    [delivery] = deliveries_of(aws, task["id"])
    assert delivery["status"] == "delivered" and delivery["attempt_count"] == 1


def deliveries_of(aws, task_id: str) -> list[dict]:
    status, listing = aws.api("GET", "/v1/webhooks/deliveries", query={"task_id": task_id}, function="api_webhooks")
    assert status == 200, listing
    return listing["data"]


@pytest.mark.parametrize("spelling", ["[::ffff:127.0.0.1]", "[::ffff:7f00:1]", "2130706433", "127.1", "localhost"])
def test_a_receiver_at_a_loopback_address_in_any_spelling_is_refused_at_submit_and_never_reached(
    aws, monkeypatch, spelling
):
    monkeypatch.setenv("ASYNCINFER_WEBHOOK_ALLOW_PRIVATE", "false")
    with WebhookReceiver() as receiver:
        url = receiver.url.replace("127.0.0.1", spelling)
        status, body = aws.api("POST", "/v1/async", body={**REFERENCE_BODY, "webhook": {"url": url}})
        assert status == 400 and body["error"]["message"].startswith("webhook.url"), body
        assert "private address" in body["error"]["message"]
        assert aws.queue_depth() == 0
        # A delivery accepted while private receivers were allowed is refused by the sender all the same.
        monkeypatch.setenv("ASYNCINFER_WEBHOOK_ALLOW_PRIVATE", "true")
        shared.service.cache_clear()
        task = submit(aws, url)
        monkeypatch.setenv("ASYNCINFER_WEBHOOK_ALLOW_PRIVATE", "false")
        webhook_sender.sender.cache_clear()
        finish(aws)
        assert receiver.received == []
    [delivery] = deliveries_of(aws, task["id"])
    assert delivery["status"] == "failed" and "private address" in delivery["attempts"][0]["error"]


def sender_batch(aws) -> float:
    """One invocation of the sender with every waiting delivery message in one batch; its seconds."""
    started = time.monotonic()
    assert aws.run_queue("webhook_sender", max_batches=1) >= 1
    return time.monotonic() - started


def test_a_slow_receiver_gets_one_bounded_attempt_and_delays_no_other_delivery(aws, monkeypatch):
    """Nine receivers drip their answer a byte at a time (4 s in all), each read well within the timeout;
    another tenant's receiver answers at once. One SQS batch holds all ten: each slow attempt ends at the
    whole-attempt bound (1 s), side by side, and the other delivery is made without waiting for them."""
    monkeypatch.setenv("ASYNCINFER_WEBHOOK_TIMEOUT_SECONDS", "1")
    webhook_sender.sender.cache_clear()
    with HostileReceiver(drip_seconds=0.1) as slow, WebhookReceiver() as fine:
        slow_tasks = [submit(aws, slow.url) for _ in range(9)]
        status, other = aws.api(
            "POST", "/v1/async", tenant="globex", body={**REFERENCE_BODY, "webhook": {"url": fine.url}}
        )
        assert status == 200, other
        aws.run_worker()
        aws.run_notifier()
        elapsed = sender_batch(aws)
        assert len(fine.received) == 1
    assert elapsed < 2.5, f"the batch of ten took {elapsed:.1f} s"
    for task in slow_tasks:
        [delivery] = deliveries_of(aws, task["id"])
        [attempt] = delivery["attempts"]
        assert attempt["error"] == "TimeoutError: no answer within 1 s"
        # The 1 s bound plus the scheduling of ten attempts' threads on a busy 2-core machine (1,769 and
        # 2,323 ms seen in CI): still well below the 4 s the receiver would take without the bound.
        assert attempt["duration_ms"] < 3000
    status, listing = aws.api(
        "GET", "/v1/webhooks/deliveries", tenant="globex", query={"task_id": other["id"]}, function="api_webhooks"
    )
    assert listing["data"][0]["status"] == "delivered"


def test_a_receivers_huge_answer_is_never_read(aws):
    with HostileReceiver(body_bytes=300 * 2**20) as huge:
        task = submit(aws, huge.url)
        aws.run_worker()
        aws.run_notifier()
        tracemalloc.start()
        sender_batch(aws)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    [delivery] = deliveries_of(aws, task["id"])
    assert delivery["status"] == "delivered"
    assert peak < 16 * 2**20, f"the sender's traced memory peaked at {peak / 2**20:.0f} MiB"
    assert huge.sent < 64 * 2**20, "the answer's body was read"


def test_a_delivery_whose_message_was_dead_lettered_is_recorded_failed_not_left_pending(aws):
    with WebhookReceiver() as receiver:
        task = submit(aws, receiver.url)
        aws.run_worker()
        aws.run_notifier()
        # The message kept failing the sender: SQS's redrive moves it to the webhook dead-letter queue.
        r = aws.resources
        (message,) = aws.sqs.receive_message(QueueUrl=r.webhook_queue_url, MaxNumberOfMessages=10)["Messages"]
        aws.sqs.send_message(QueueUrl=r.webhook_dlq_url, MessageBody=message["Body"])
        aws.sqs.delete_message(QueueUrl=r.webhook_queue_url, ReceiptHandle=message["ReceiptHandle"])
        poller = Poller(aws.sqs, r.webhook_dlq_url, r.webhook_dlq_arn, aws.functions, "dead_letter")
        assert poller.poll_once() == 1
        assert receiver.received == []
    [delivery] = deliveries_of(aws, task["id"])
    assert delivery["status"] == "failed"
    assert "dead-lettered" in delivery["attempts"][-1]["error"]
    assert aws.queue_depth(r.webhook_dlq_url) == 0


def test_a_webhook_url_is_sealed_at_rest_shown_by_its_origin_and_still_delivered_to(aws):
    credential = "url-5d8e-SECRET"
    with WebhookReceiver() as receiver:
        url = f"{receiver.url}/{credential}?token={credential}"
        task = submit(aws, url)
        finish(aws)
        [hit] = receiver.wait_for(1)
    assert hit.path == f"/hooks/{credential}?token={credential}"  # the sender opened it
    origin = receiver.url.removesuffix("/hooks")
    stored = aws.everything_stored()
    assert credential not in stored and "sealed:v1:" in stored
    status, listing = aws.api("GET", "/v1/webhooks/deliveries", query={"task_id": task["id"]}, function="api_webhooks")
    assert status == 200
    [delivery] = listing["data"]
    assert delivery["url"] == f"{origin}/…"


def test_webhooks_still_arrive_after_every_kind_of_failed_transaction(aws):
    """A transaction that fails (a taken message_id's 409, a conditional delete of a task not yet ended,
    an API key's colliding id) changes nothing, in the emulator as on DynamoDB: the table the stream's
    reader follows stays the table everyone writes, so later endings are still announced."""
    with WebhookReceiver() as receiver:
        submit(aws, receiver.url)
        finish(aws)  # the stream's reader now holds its place in the table's stream
        assert len(receiver.wait_for(1)) == 1
        body = {"messages": [{"role": "user", "content": "hi"}]}
        call = {"function": "api_privategpt", "query": {"message_id": "msg_taken"}, "body": body}
        assert aws.api("POST", "/v1/messages/async", **call)[0] == 200
        status, error = aws.api("POST", "/v1/messages/async", **call)
        assert status == 409 and error["error"]["code"] == "message_id_conflict"
        named = aws.store.get_name("acme", MESSAGE_ID, "msg_taken")
        claim = NameClaim(MESSAGE_ID, "msg_taken", named.fingerprint)
        aws.store.delete_if("acme", named.task_id, expect=[TaskStatus.COMPLETED], names=[claim])  # still CREATED
        assert aws.store.get("acme", named.task_id).status == TaskStatus.CREATED
        key = ApiKeyRecord(key_hash="h1", tenant="acme", created_at=now_ms())
        aws.store.put_api_key(key)
        with pytest.raises(AlreadyExists):
            aws.store.put_api_key(key)
        later = submit(aws, receiver.url)
        finish(aws)
        hits = receiver.wait_for(2)
    assert len(hits) == 2
    assert Webhook(secret(aws)).verify(hits[1].body, hits[1].headers)["data"]["id"] == later["id"]
