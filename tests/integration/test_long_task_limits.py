"""Long-task limits (issue 29) against the emulator: the slots item's conditional updates, racing dispatchers,
and the worker's handler holding a long task over its tenant's cap back as a new, delayed message (never a
failed receive) until a slot frees; the runner is the real one under the local durable execution service."""

from __future__ import annotations

import threading

import pytest

from asyncinfer.domain.model import TaskStatus
from asyncinfer.store.dynamodb_slots import DynamoLongSlots
from infra.local.emulator import serialize_dynamodb
from tests.e2e.conftest import wait_for
from tests.integration.test_long_tasks import hex_of, submit_research
from tests.support.durable import RUNNER_ARN, DurableRuntime


@pytest.fixture
def slots(aws) -> DynamoLongSlots:
    return DynamoLongSlots(aws.ddb, aws.resources.table_name)


def capped(aws, monkeypatch, cap: int):
    monkeypatch.setenv("ASYNCINFER_RUNNER_FUNCTION_ARN", RUNNER_ARN)
    monkeypatch.setenv("ASYNCINFER_DEMO_RESEARCH_STEP_SECONDS", "0")
    monkeypatch.setenv("ASYNCINFER_DEMO_RESEARCH_TOOL_SECONDS", "0")
    monkeypatch.setenv("ASYNCINFER_MAX_LONG_TASKS_PER_TENANT", str(cap))
    monkeypatch.setenv("ASYNCINFER_LONG_TASK_WAIT_SECONDS", "1")
    return DurableRuntime(lambda event: aws.functions.invoke("runner", event))


def messages(aws, url: str | None = None) -> int:
    """A queue's messages: visible, in flight, and delayed (a waiting task's new message is delayed)."""
    kinds = [f"ApproximateNumberOf{kind}" for kind in ("Messages", "MessagesNotVisible", "MessagesDelayed")]
    found = aws.sqs.get_queue_attributes(QueueUrl=url or aws.resources.queue_url, AttributeNames=kinds)["Attributes"]
    return sum(int(found[kind]) for kind in kinds)


def chat(text: str) -> dict:
    return {"model": "demo-chat", "messages": [{"role": "user", "content": text}]}


def run_when_back(aws, timeout: float = 10) -> None:
    """Deliver the tasks queue's messages once a delayed one is visible again."""
    wait_for(lambda: aws.run_queue("worker"), timeout=timeout, interval=0.2, what="the delayed message")


def test_slots_are_taken_up_to_the_cap_kept_by_their_holder_and_given_back(slots):
    assert slots.take("acme", "a", 2) is None
    assert slots.take("acme", "b", 2) is None
    assert slots.take("acme", "a", 2) is None  # a holder taking again keeps its one slot
    assert slots.take("acme", "c", 2) == ["a", "b"]  # refused, with the holders read in the same request
    assert slots.take("other", "c", 2) is None  # each tenant has its own
    slots.give_back("acme", ["a", "never-held"])
    assert slots.take("acme", "c", 2) is None
    assert slots.holders("acme") == ["b", "c"]
    slots.give_back("acme", ["b", "c"])
    assert slots.holders("acme") == []  # the empty set is no attribute: taking starts over
    assert slots.take("acme", "d", 1) is None


def test_racing_dispatchers_never_hold_more_slots_than_the_cap(slots):
    """40 dispatchers of one tenant at once: exactly `cap` get a slot. The emulator's DynamoDB calls are
    made one at a time, as DynamoDB's conditional writes to one item are."""
    serialize_dynamodb()
    start = threading.Barrier(40)
    got: list[str] = []

    def dispatch(task_id: str) -> None:
        start.wait()
        if slots.take("acme", task_id, 3) is None:
            got.append(task_id)

    threads = [threading.Thread(target=dispatch, args=(f"t{i:02d}",)) for i in range(40)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(got) == 3
    assert slots.holders("acme") == sorted(got)


def test_the_status_of_a_holder_is_read_and_a_gone_one_is_none(aws, slots):
    status, task = aws.api("POST", "/v1/async", body=chat("hi"))
    assert status == 200
    assert slots.status_of("acme", hex_of(task["id"])) == TaskStatus.CREATED
    assert slots.status_of("acme", "0" * 32) is None


def test_a_long_task_over_the_cap_waits_as_a_new_message_and_starts_once_a_slot_frees(aws, monkeypatch, slots):
    with capped(aws, monkeypatch, cap=2) as durable:
        ids = [hex_of(submit_research(aws, f"question {i}")) for i in range(3)]
        assert aws.run_queue("worker") == 3
        tasks = {i: aws.store.get("acme", i) for i in ids}
        started = [i for i, t in tasks.items() if t.execution_arn]
        (waiting,) = [i for i, t in tasks.items() if not t.execution_arn]
        assert len(started) == 2
        assert tasks[waiting].status == TaskStatus.CREATED and tasks[waiting].attempt == 0
        assert tasks[waiting].requeued_at is not None  # the sweeper will not send it a second message
        # Its receive succeeded (nothing left in flight) and one new message, delayed, stands for it.
        assert messages(aws) == 1
        assert messages(aws, aws.resources.dlq_url) == 0
        assert sorted(slots.holders("acme")) == sorted(started)
        for task_id in started:
            durable.wait(tasks[task_id].execution_arn)
            assert aws.store.get("acme", task_id).status == TaskStatus.COMPLETED
        run_when_back(aws)
        last = aws.store.get("acme", waiting)
        assert last.execution_arn, "it started once a slot had freed"
        durable.wait(last.execution_arn)
        assert aws.store.get("acme", waiting).status == TaskStatus.COMPLETED
        assert slots.holders("acme") == [waiting]  # the ended holders' slots were taken back
        assert messages(aws) == 0


def test_waiting_longer_than_the_receive_limit_never_dead_letters_and_a_cancel_frees_the_slot(aws, monkeypatch):
    """The tasks queue dead-letters a message after 3 receives; a task waits here for 5 turns."""
    with capped(aws, monkeypatch, cap=1) as durable:
        holder = submit_research(aws, "slow", steps=2, step_seconds=30)
        aws.run_queue("worker")
        wait_for(lambda: aws.store.get("acme", hex_of(holder)).status == TaskStatus.IN_PROGRESS, what="the holder")
        waiter = hex_of(submit_research(aws, "fast"))
        aws.run_queue("worker")
        for _ in range(5):
            run_when_back(aws)
            task = aws.store.get("acme", waiter)
            assert (task.status, task.attempt, task.execution_arn, task.error) == (TaskStatus.CREATED, 0, None, None)
            assert messages(aws, aws.resources.dlq_url) == 0
            assert messages(aws) == 1
        status, _ = aws.api("POST", f"/v1/async/{holder}/cancel")
        assert status == 200
        run_when_back(aws)
        started = aws.store.get("acme", waiter)
        assert started.execution_arn
        durable.wait(started.execution_arn)
        assert aws.store.get("acme", waiter).status == TaskStatus.COMPLETED
        assert aws.store.get("acme", hex_of(holder)).status == TaskStatus.CANCELLED


def test_a_waiting_task_whose_message_cannot_be_sent_again_fails_its_receive_instead(aws, monkeypatch, slots):
    """The fallback: the receive fails (the message comes back after the wait, counting one receive)."""
    from asyncinfer.queue.refill import SqsLane

    def refused(lane, delivery, delay_seconds):
        raise RuntimeError("SQS refused")

    monkeypatch.setattr(SqsLane, "send_again", refused)
    with capped(aws, monkeypatch, cap=1):
        status, other = aws.api("POST", "/v1/async", body=chat("x"))
        assert status == 200
        (message,) = aws.sqs.receive_message(QueueUrl=aws.resources.queue_url)["Messages"]
        aws.sqs.delete_message(QueueUrl=aws.resources.queue_url, ReceiptHandle=message["ReceiptHandle"])
        assert slots.take("acme", hex_of(other["id"]), 1) is None  # held by a task that stays CREATED
        waiter = hex_of(submit_research(aws))
        aws.run_queue("worker")
        task = aws.store.get("acme", waiter)
        assert (task.status, task.execution_arn) == (TaskStatus.CREATED, None)
        in_flight = aws.sqs.get_queue_attributes(
            QueueUrl=aws.resources.queue_url, AttributeNames=["ApproximateNumberOfMessagesNotVisible"]
        )["Attributes"]
        assert int(in_flight["ApproximateNumberOfMessagesNotVisible"]) == 1
        assert messages(aws) == 1
