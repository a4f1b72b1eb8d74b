"""A `complete_by` batch's part on the runner (asyncinfer.runner.batch_watch) against moto: a job that cannot end by
`complete_by` is stopped at the first poll (after 1 s), and the part's waiting items move to the default class
(path and service_tier `default`, on the tasks queue, not the batch-items queue) in that poll's step; what the job
answered for them is dropped, and the hand-back leaves them. Each step replayed after an interruption sends no
second set of messages and ends nothing twice; `batch.escalated` is one delivery. A job on time keeps its items."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, replace

import pytest

from asyncinfer import wiring
from asyncinfer.config import WebhookApiSettings, WorkerSettings
from asyncinfer.domain.batches import item_task_id
from asyncinfer.domain.model import ServiceTier, TaskStatus, now_ms
from asyncinfer.domain.records import BatchStatus
from asyncinfer.providers.batch_jobs import BatchJobState
from asyncinfer.queue.lanes import Lanes
from asyncinfer.queue.sqs import SqsQueue
from asyncinfer.runner.batch_watch import PartQueues, part_steps
from asyncinfer.surfaces.openai_batches import public_id
from asyncinfer.tasks.provider_parts import PROVIDER_BATCH, hand_back, start_part
from asyncinfer.wiring import deliveries
from tests.integration.test_batch_part_runner import (
    FakeJobs,
    Interrupted,
    Named,
    ReplayingSteps,
    Stoppable,
    batches,
    priced,  # noqa: F401  (the fixture)
)
from tests.integration.test_batches import create

pytestmark = pytest.mark.integration
MODEL = "demo-batch-bedrock"
COUNT = 12


@dataclass
class Capacity:
    default_lane_slots: int = 20
    priority_lane_slots: int = 0
    demo_chat_seconds: float = 1.0


class Slow(Stoppable):
    """Started a minute ago, 3 of its records done (so about 3 more minutes to go), until stopped: then it has
    answered those 3."""

    def __init__(self) -> None:
        super().__init__(done=3)
        self.watched = 0
        self.started_ms = now_ms() - 60_000

    def poll(self, job: dict) -> BatchJobState:
        self.watched += not self.stopped
        return replace(super().poll(job), started_ms=self.started_ms)


def part_batch(aws, complete_in_ms: int) -> str:
    """A batch of COUNT items of a model with batch jobs, all in part 0 (CREATED, path provider_batch, queued
    nowhere), with `complete_by` in `complete_in_ms` and a webhook."""
    requests = [
        {"custom_id": f"r{i}", "body": {"model": MODEL, "messages": [{"role": "user", "content": f"q {i}"}]}}
        for i in range(COUNT)
    ]
    status, made = create(aws, {"requests": requests, "webhook": {"url": "http://127.0.0.1:9/hook"}})
    assert status == 200, made
    aws.run_queue("batch")
    batch_id = made["id"].removeprefix("batch_").replace("-", "")
    store = batches()
    for task in store.get_tasks("acme", [item_task_id(batch_id, i) for i in range(COUNT)]).values():
        aws.store.transition("acme", task.id, expect={TaskStatus.CREATED}, changes={"path": PROVIDER_BATCH})
    aws.sqs.purge_queue(QueueUrl=aws.resources.batch_items_queue_url)  # a part's items are never queued
    complete_by = now_ms() + complete_in_ms
    store.update_batch("acme", batch_id, expect={BatchStatus.IN_PROGRESS}, changes={"complete_by": complete_by})
    return batch_id


def runner(aws, fake: FakeJobs):
    r, sqs = aws.resources, wiring.client("sqs")
    lanes = Lanes(SqsQueue(sqs, r.queue_url), {"priority": SqsQueue(sqs, r.priority_queue_url)})
    queues = PartQueues(SqsQueue(sqs, r.batch_items_queue_url), lanes, deliveries.webhooks(WebhookApiSettings()))
    worker = wiring.worker(WorkerSettings())
    return part_steps(worker, batches(), lambda spec: fake, queues, Capacity(), public_id)


def items(batch_id: str) -> dict[int, object]:
    found = batches().get_tasks("acme", [item_task_id(batch_id, i) for i in range(COUNT)])
    return {task.batch_index: task for task in found.values()}


def escalations(aws) -> list:
    found, _ = deliveries.webhook_store(aws.resources.table_name).list_deliveries("acme", limit=100, after=None)
    return [d for d in found if d.event_type == "batch.escalated"]


def start_complete_by_part(batch_id: str) -> None:
    """The part's record as the batch function writes it for a complete_by batch (10 s ahead)."""
    blobs = wiring.worker(WorkerSettings()).blobs
    start_part(Named(), blobs, "acme", batch_id, 0, MODEL, list(range(COUNT)), now_ms() + 10_000)


@pytest.mark.parametrize("interrupt", [None, "prepare", "start", "poll-0", "results", "collect-0", "absent"])
def test_a_job_too_slow_for_complete_by_is_stopped_and_its_items_run_in_the_default_class(priced, interrupt):  # noqa: F811
    aws = priced
    batch_id = part_batch(aws, complete_in_ms=10_000)  # the job's pace says about 3 minutes
    fake = Slow()
    start_complete_by_part(batch_id)
    part, steps = runner(aws, fake), ReplayingSteps(interrupt)
    try:
        ended = part.run("acme", batch_id, 0, steps)
    except Interrupted:
        ended = part.run("acme", batch_id, 0, steps)
    assert steps.waits[0] == 1, "a complete_by part is first looked at after 1 s"
    assert fake.started == 1 and fake.stopped == 1 and fake.watched == 1, "escalated at the first poll"
    assert ended["status"] == "Stopped"
    if interrupt != "poll-0":  # its run again polls a job already stopped: the escalation was the first run's
        assert ended["escalated"] == "default"
    assert ended["completed"] == 0 and ended["discarded"] == 3, "the job's 3 answers dropped"
    by_index = items(batch_id)
    assert {t.status for t in by_index.values()} == {TaskStatus.CREATED}, "nothing ended by the part"
    assert {t.path for t in by_index.values()} == {"default"}
    assert {t.service_tier for t in by_index.values()} == {ServiceTier.DEFAULT}
    assert aws.queue_depth(aws.resources.queue_url) == COUNT, "one message each, on the tasks queue"
    assert aws.queue_depth(aws.resources.batch_items_queue_url) == 0, "the hand-back left them"
    assert aws.queue_depth(aws.resources.priority_queue_url) == 0
    batch = batches().get_batch("acme", batch_id)
    assert batch.escalated_at is not None and batch.complete_by is not None
    (delivery,) = escalations(aws)
    assert delivery.id == f"msg_{batch_id}_batch_escalated_p0" and delivery.subject == batch_id
    assert aws.queue_depth(aws.resources.webhook_queue_url) == 1
    data = json.loads(delivery.payload)["data"]
    assert data["id"] == public_id(batch_id) and data["source"] == "p0" and data["items"] == COUNT
    assert data["from"] == PROVIDER_BATCH and data["to"] == "default"
    assert data["complete_by"] == batch.complete_by // 1000 and data["at"] <= time.time()
    status, read = aws.api("GET", f"/v1/webhooks/deliveries/{delivery.id}", function="api_webhooks")
    assert status == 200 and read["event_type"] == "batch.escalated", read


def test_the_escalated_items_end_once_on_demand(priced):  # noqa: F811
    aws = priced
    batch_id = part_batch(aws, complete_in_ms=10_000)
    start_complete_by_part(batch_id)
    runner(aws, Slow()).run("acme", batch_id, 0, ReplayingSteps())
    assert aws.run_queue("worker") >= 1  # an invocation takes more from the queue itself as slots free
    assert aws.queue_depth() == 0
    ended = items(batch_id).values()
    assert {t.status for t in ended} == {TaskStatus.COMPLETED} and {t.path for t in ended} == {"default"}
    assert {t.attempt for t in ended} == {1}, "claimed once each"


def test_a_hand_back_with_the_window_closed_leaves_escalated_items_to_their_lane(priced):  # noqa: F811
    aws = priced
    batch_id = part_batch(aws, complete_in_ms=10_000)
    blobs = wiring.worker(WorkerSettings()).blobs
    start_part(Named(), blobs, "acme", batch_id, 0, MODEL, list(range(COUNT)), now_ms() + 10_000)
    runner(aws, Slow()).run("acme", batch_id, 0, ReplayingSteps())
    store = batches()
    store.update_batch("acme", batch_id, expect={BatchStatus.IN_PROGRESS}, changes={"deadline_at": now_ms() - 1})
    assert hand_back(aws.store, store, None, "acme", batch_id, list(range(COUNT))) == {
        "queued": 0,
        "expired": 0,
        "refused": 0,
    }
    assert {(t.status, t.path) for t in items(batch_id).values()} == {(TaskStatus.CREATED, "default")}


def test_a_job_on_time_keeps_every_item_on_the_provider_batch(priced):  # noqa: F811
    aws = priced
    batch_id = part_batch(aws, complete_in_ms=600_000)
    fake = FakeJobs(absent=set(), failing=set(), polls=3)
    start_part(
        Named(),
        wiring.worker(WorkerSettings()).blobs,
        "acme",
        batch_id,
        0,
        MODEL,
        list(range(COUNT)),
        now_ms() + 600_000,
    )
    steps = ReplayingSteps()
    ended = runner(aws, fake).run("acme", batch_id, 0, steps)
    assert ended["completed"] == COUNT and "escalated" not in ended and ended["discarded"] == 0
    assert steps.waits[0] == 1
    assert {(t.status, t.path) for t in items(batch_id).values()} == {(TaskStatus.COMPLETED, PROVIDER_BATCH)}
    assert aws.queue_depth(aws.resources.queue_url) == 0 and not escalations(aws)
    assert batches().get_batch("acme", batch_id).escalated_at is None
