"""The emulator's SQS fair queues keep AWS's contract: on a standard queue whose messages name a group (the
tenant), a tenant with messages in flight does not hold back a quieter one; within a group, arrival order;
FIFO queues and groupless messages as before; no message lost or received twice beside sends and deletes."""

from __future__ import annotations

import threading
from collections import Counter
from types import SimpleNamespace

import boto3
import pytest
from moto import mock_aws

from infra.local.emulator import REGION, EmulatorProcess
from infra.local.fair_queues import fair_order

pytestmark = pytest.mark.integration


def messages(*groups: str | None) -> list[SimpleNamespace]:
    return [SimpleNamespace(id=str(i), group_id=group) for i, group in enumerate(groups)]


def test_the_fair_order_takes_the_group_with_the_fewest_in_flight_first_then_the_oldest():
    waiting = messages("a", "a", "a", "b", "a", "c", None, None)
    taken = fair_order(waiting, Counter({"a": 5}), 8)
    assert [m.id for m in taken] == ["3", "5", "6", "7", "0", "1", "2", "4"]  # b, c, the groupless, then a
    assert [m.id for m in fair_order(waiting, Counter(), 4)] == ["0", "3", "5", "6"]  # one each, oldest first
    assert [m.id for m in fair_order(messages("a", "a", "a"), Counter({"b": 9}), 2)] == ["0", "1"]


@pytest.fixture
def sqs():
    with mock_aws():
        yield boto3.client("sqs", region_name=REGION)


def send(sqs, url: str, group: str, n: int) -> None:
    for i in range(0, n, 10):
        entries = [
            {"Id": str(j), "MessageBody": f"{group}-{i + j}", "MessageGroupId": group} for j in range(min(10, n - i))
        ]
        sqs.send_message_batch(QueueUrl=url, Entries=entries)


def receive(sqs, url: str, n: int = 10) -> list[str]:
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=n, VisibilityTimeout=60).get("Messages", [])
    return [m["Body"] for m in got]


def test_a_quiet_tenant_is_received_next_behind_a_noisy_tenants_backlog(sqs):
    url = sqs.create_queue(QueueName="fair")["QueueUrl"]
    send(sqs, url, "noisy", 200)
    assert receive(sqs, url) == [f"noisy-{i}" for i in range(10)]  # within a group, arrival order
    send(sqs, url, "quiet", 2)
    assert receive(sqs, url) == ["quiet-0", "quiet-1", *(f"noisy-{i}" for i in range(10, 18))]


def test_fifo_queues_and_groupless_messages_are_as_before(sqs):
    fifo = sqs.create_queue(QueueName="f.fifo", Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "true"})
    send(sqs, fifo["QueueUrl"], "a", 3)
    send(sqs, fifo["QueueUrl"], "b", 1)
    assert receive(sqs, fifo["QueueUrl"]) == ["a-0", "a-1", "a-2", "b-0"]
    plain = sqs.create_queue(QueueName="plain")["QueueUrl"]
    for i in range(5):
        sqs.send_message(QueueUrl=plain, MessageBody=str(i))
    assert receive(sqs, plain) == ["0", "1", "2", "3", "4"]


def test_no_message_is_lost_or_received_twice_beside_concurrent_sends_and_deletes(sqs):
    url = sqs.create_queue(QueueName="busy")["QueueUrl"]
    senders = [threading.Thread(target=send, args=(sqs, url, f"t{t}", 100)) for t in range(4)]
    for thread in senders:
        thread.start()
    seen: list[str] = []
    while len(seen) < 400:
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=60).get("Messages", [])
        seen += [m["Body"] for m in got]
        if got:
            entries = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(got)]
            sqs.delete_message_batch(QueueUrl=url, Entries=entries)
        elif not any(thread.is_alive() for thread in senders):
            break
    assert sorted(seen) == sorted(f"t{t}-{i}" for t in range(4) for i in range(100))


def test_the_emulator_process_serves_fair_queues():
    emulator = EmulatorProcess()
    endpoint = emulator.start()
    try:
        sqs = boto3.client(
            "sqs", endpoint_url=endpoint, region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x"
        )
        url = sqs.create_queue(QueueName="fair")["QueueUrl"]
        send(sqs, url, "noisy", 30)
        receive(sqs, url)
        send(sqs, url, "quiet", 1)
        assert receive(sqs, url, 1) == ["quiet-0"]
    finally:
        emulator.stop()


def test_sends_keep_counts_and_content_based_deduplication_without_walking_the_queue(sqs):
    """A send no longer builds every attribute of its queue (each count walks every message): the counts and a
    FIFO queue's content-based deduplication are still what they were."""
    plain = sqs.create_queue(QueueName="counted")["QueueUrl"]
    for i in range(3):
        sqs.send_message(QueueUrl=plain, MessageBody=str(i))
    assert (
        sqs.get_queue_attributes(QueueUrl=plain, AttributeNames=["All"])["Attributes"]["ApproximateNumberOfMessages"]
        == "3"
    )
    fifo = sqs.create_queue(QueueName="d.fifo", Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "true"})
    for _ in range(2):
        sqs.send_message(QueueUrl=fifo["QueueUrl"], MessageBody="same", MessageGroupId="g")
    assert receive(sqs, fifo["QueueUrl"]) == ["same"]
