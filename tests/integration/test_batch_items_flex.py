"""complete_by in the flex class: a batch's items no provider batch job takes start in flex, its batch job with
`escalate` moves the ones still waiting to the default class (or sets its next look), the sweeper sends that job at
the batch's escalate time, and moves a single flex task at its own."""

import json

import pytest

from asyncinfer.config import SweeperSettings
from asyncinfer.domain.batches import item_task_id
from asyncinfer.domain.model import Task, TaskKind, TaskStatus, WebhookTarget, new_task_id, now_ms
from asyncinfer.handlers import sweeper as sweeper_handler
from asyncinfer.queue.base import BatchJob
from asyncinfer.store.schema import BATCH_ESCALATE, DUE_PK
from asyncinfer.tasks.claims import claim
from asyncinfer.wiring import deliveries
from asyncinfer.wiring import sweeper as build_sweeper

pytestmark = pytest.mark.integration

# Without a pace of its own (the demo chat model, ASYNCINFER_DEMO_CHAT_SECONDS=0 here), an item is taken to
# need a minute on demand, twice that with the margin; the sweeper is taken to look every minute.
ITEM_MS, MARGIN, SWEEP_MS = 60_000, 2, 60_000
HOOK = "http://127.0.0.1:9/escalations"  # recorded, never sent here (no sender runs)


def create(aws, n: int, complete_by: str, model: str = "demo-chat", **extra) -> dict:
    requests = [
        {"custom_id": f"r{i}", "body": {"model": model, "messages": [{"role": "user", "content": f"q{i}"}]}}
        for i in range(n)
    ]
    body = {"requests": requests, "complete_by": complete_by, **extra}
    status, batch = aws.api("POST", "/v1/batches", body=body, function="api_batches")
    assert status == 200, batch
    return batch


def raw_id(batch: dict) -> str:
    return batch["id"].removeprefix("batch_").replace("-", "")


def items(aws, batch: dict, n: int) -> list[Task]:
    tasks = [aws.store.get("acme", item_task_id(raw_id(batch), i)) for i in range(n)]
    assert all(tasks)
    return tasks  # type: ignore[return-value]


def queued_lane(aws, task_id: str) -> str | None:
    item = aws.ddb.get_item(
        TableName=aws.resources.table_name, Key={"pk": {"S": "acme"}, "sk": {"S": f"task#{task_id}"}}
    )
    return item["Item"].get("queued", {}).get("S")


def escalate_dues(aws, batch: dict) -> list[int]:
    resp = aws.ddb.query(
        TableName=aws.resources.table_name,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": DUE_PK}},
    )
    keys = [item["sk"]["S"].split("#", 2) for item in resp["Items"]]
    return sorted(int(at) for at, _, task_id in keys if task_id == BATCH_ESCALATE + raw_id(batch))


def escalations(aws, event_type: str) -> list:
    found, _ = deliveries.webhook_store(aws.resources.table_name).list_deliveries("acme", limit=100, after=None)
    return [d for d in found if d.event_type == event_type]


def send_escalate(aws, batch: dict) -> None:
    job = BatchJob(tenant="acme", batch_id=raw_id(batch), escalate=True)
    aws.sqs.send_message(QueueUrl=aws.resources.batch_queue_url, MessageBody=job.model_dump_json())
    assert aws.run_queue("batch") == 1


def messages(aws, url: str) -> list[dict]:
    bodies = []
    while got := aws.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages"):
        bodies += [json.loads(m["Body"]) for m in got]
        aws.sqs.delete_message_batch(
            QueueUrl=url, Entries=[{"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(got)]
        )
    return bodies


def test_a_complete_by_batch_without_batch_jobs_starts_its_items_in_flex(aws):
    batch = create(aws, 3, "+3600s")
    assert aws.run_queue("batch") == 1
    made = items(aws, batch, 3)
    assert {(t.path, t.service_tier.value, t.complete_by) for t in made} == {("flex", "flex", made[0].complete_by)}
    assert made[0].complete_by == batch["complete_by"] * 1000
    assert [queued_lane(aws, t.id) for t in made] == ["flex"] * 3
    flex = messages(aws, aws.resources.flex_queue_url)
    assert sorted(m["task_id"] for m in flex) == sorted(t.id for t in made)
    assert aws.queue_depth(aws.resources.batch_items_queue_url) == 0
    assert aws.queue_depth(aws.resources.queue_url) == 0
    # Its first look (written with the batch, as if on-demand were slow), and the one its models' pace gives:
    # 3 items in one round of the default lane's 20 slots, a minute each with the margin, less a sweep.
    complete_by = batch["complete_by"] * 1000
    assert escalate_dues(aws, batch) == sorted({complete_by - 3 * 60_000, complete_by - MARGIN * ITEM_MS - SWEEP_MS})


def test_a_batch_without_complete_by_queues_its_items_in_the_batch_lane_as_before(aws):
    status, batch = aws.api(
        "POST",
        "/v1/batches",
        body={
            "requests": [
                {"custom_id": "a", "body": {"model": "demo-chat", "messages": [{"role": "user", "content": "hi"}]}}
            ]
        },
        function="api_batches",
    )
    assert status == 200, batch
    aws.run_queue("batch")
    assert aws.queue_depth(aws.resources.flex_queue_url) == 0
    assert escalate_dues(aws, batch) == []


def test_the_escalate_job_moves_waiting_flex_items_to_the_default_class_and_leaves_a_claimed_one(aws):
    batch = create(aws, 3, "+30s", webhook={"url": HOOK})  # 2 minutes of on-demand needed: flex cannot wait
    aws.run_queue("batch")
    messages(aws, aws.resources.flex_queue_url)
    first, *waiting = items(aws, batch, 3)
    now = now_ms()
    claim(aws.store, first, now, now + 60_000)
    send_escalate(aws, batch)
    running, *moved = items(aws, batch, 3)
    assert (running.status, running.path, running.service_tier.value) == (TaskStatus.IN_PROGRESS, "flex", "flex")
    assert {(t.status, t.path, t.service_tier.value) for t in moved} == {(TaskStatus.CREATED, "default", "default")}
    assert [queued_lane(aws, t.id) for t in moved] == ["default", "default"]
    assert sorted(m["task_id"] for m in messages(aws, aws.resources.queue_url)) == sorted(t.id for t in waiting)
    assert aws.queue_depth(aws.resources.flex_queue_url) == 0
    status, read = aws.api("GET", f"/v1/batches/{batch['id']}", function="api_batches")
    assert status == 200 and read["escalated_at"] is not None
    # A repeated job moves nothing more and sends the waiting ones again (a crash between move and send).
    send_escalate(aws, batch)
    assert len(messages(aws, aws.resources.queue_url)) == 2
    assert items(aws, batch, 3)[0].path == "flex"
    # Announced once for the flex source, however often the job ran.
    (announced,) = escalations(aws, "batch.escalated")
    assert announced.id == f"msg_{raw_id(batch)}_batch_escalated_flex"
    data = json.loads(announced.payload)["data"]
    assert (data["id"], data["source"], data["from"], data["to"], data["items"]) == (
        batch["id"],
        "flex",
        "flex",
        "default",
        2,
    )


def test_the_escalate_job_before_the_time_sets_the_next_look(aws):
    batch = create(aws, 3, "+3600s")
    aws.run_queue("batch")
    messages(aws, aws.resources.flex_queue_url)
    complete_by = batch["complete_by"] * 1000
    for at in escalate_dues(aws, batch):
        aws.ddb.delete_item(
            TableName=aws.resources.table_name,
            Key={"pk": {"S": DUE_PK}, "sk": {"S": f"{at:013d}#acme#{BATCH_ESCALATE}{raw_id(batch)}"}},
        )
    send_escalate(aws, batch)
    assert {t.path for t in items(aws, batch, 3)} == {"flex"}
    assert aws.queue_depth(aws.resources.queue_url) == 0
    assert escalate_dues(aws, batch) == [complete_by - MARGIN * ITEM_MS - SWEEP_MS]


def test_the_sweeper_sends_the_escalate_job_at_the_batch_s_escalate_time(aws):
    batch = create(aws, 2, "+3600s")
    dues = escalate_dues(aws, batch)
    assert len(dues) == 1  # the first look, written with the batch
    sweeper = build_sweeper(SweeperSettings())
    sweeper.sweep_deadlines(dues[0] - 1)
    assert aws.queue_depth(aws.resources.batch_queue_url) == 1  # only the batch's own job
    sweeper.sweep_deadlines(dues[0])
    jobs = [
        json.loads(m["Body"])
        for m in aws.sqs.receive_message(QueueUrl=aws.resources.batch_queue_url, MaxNumberOfMessages=10)["Messages"]
    ]
    assert {"tenant": "acme", "batch_id": raw_id(batch), "escalate": True} in jobs
    assert escalate_dues(aws, batch) == []


def single(aws, complete_by: int, **fields) -> Task:
    at = now_ms()
    task = Task(
        id=new_task_id(at),
        tenant="acme",
        kind=TaskKind.CHAT,
        model="demo-chat",
        created_at=at,
        updated_at=at,
        expires_at=at // 1000 + 86400,
        request={"model": "demo-chat", "messages": [{"role": "user", "content": "hello"}]},
        complete_by=complete_by,
        path="flex",
        service_tier="flex",
        **fields,
    )
    aws.store.create(task)
    return task


def test_a_single_flex_task_moves_to_the_default_class_at_its_escalate_time_and_a_started_one_stays(aws, monkeypatch):
    monkeypatch.setenv("ASYNCINFER_DEMO_CHAT_SECONDS", "1")  # the demo model's pace: 1 s an item
    sweeper_handler.sweeper.cache_clear()
    complete_by = now_ms() + 3600_000
    hook = WebhookTarget(url=HOOK)
    waiting, started = single(aws, complete_by, webhook=hook), single(aws, complete_by, webhook=hook)
    now = now_ms()
    claim(aws.store, aws.store.get("acme", started.id), now, now + 60_000)
    sweeper = build_sweeper(SweeperSettings())
    first_look = complete_by - MARGIN * ITEM_MS - SWEEP_MS
    sweeper.sweep_deadlines(first_look)
    # Not yet: its own time is 2 s (1 s with the margin) and a sweep before complete_by.
    assert aws.store.get("acme", waiting.id).path == "flex"
    own = complete_by - MARGIN * 1000 - SWEEP_MS
    sweeper.sweep_deadlines(own - 1)
    assert aws.store.get("acme", waiting.id).path == "flex"
    sweeper.sweep_deadlines(own)
    moved = aws.store.get("acme", waiting.id)
    assert (moved.status, moved.path, moved.service_tier.value) == (TaskStatus.CREATED, "default", "default")
    assert [m["task_id"] for m in messages(aws, aws.resources.queue_url)] == [waiting.id]
    kept = aws.store.get("acme", started.id)
    assert (kept.status, kept.path) == (TaskStatus.IN_PROGRESS, "flex")
    (announced,) = escalations(aws, "task.escalated")
    assert announced.subject == waiting.id
    assert json.loads(announced.payload)["data"]["to"] == "default"
