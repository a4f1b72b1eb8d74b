"""The sweeper: a task left CREATED by a submit that died before SendMessage gets its message again."""

import pytest

from asyncinfer.config import SweeperSettings
from asyncinfer.domain.model import Task, TaskKind, TaskStatus, new_task_id, now_ms
from asyncinfer.handlers import sweeper
from asyncinfer.tasks.sweeper import Sweeper
from asyncinfer.wiring import sweeper as build_sweeper
from tests.conftest import load_event

pytestmark = pytest.mark.integration

MINUTE = 60_000


def orphan(aws, age_ms: int, tenant: str = "acme", **fields) -> Task:
    """A task written as a submit writes it, whose SendMessage never happened."""
    at = now_ms() - age_ms
    fields = {"expires_at": at // 1000 + 86400, **fields}
    task = Task(
        id=new_task_id(at),
        tenant=tenant,
        kind=TaskKind.CHAT,
        model="demo-chat",
        created_at=at,
        updated_at=at,
        request={"model": "demo-chat", "messages": [{"role": "user", "content": "hello"}]},
        **fields,
    )
    aws.store.create(task)
    return task


@pytest.fixture
def swept(aws, monkeypatch):
    monkeypatch.setenv("ASYNCINFER_ORPHAN_AFTER_SECONDS", "60")
    sweeper.sweeper.cache_clear()
    return aws


def test_an_old_created_task_is_requeued_once_and_then_completes(swept):
    lost = orphan(swept, 2 * MINUTE)
    other_tenant = orphan(swept, 3 * MINUTE, tenant="globex")
    young = orphan(swept, 1000)
    running = orphan(swept, 5 * MINUTE, status=TaskStatus.IN_PROGRESS, attempt=1, lease_expires_at=now_ms() + MINUTE)
    ended = orphan(swept, 5 * MINUTE, status=TaskStatus.COMPLETED, completed_at=now_ms())
    expired = orphan(swept, 2 * MINUTE, expires_at=now_ms() // 1000 - 1)

    report = swept.functions.invoke("sweeper", load_event("sweeper_schedule"))
    # The ended task is not in the in-flight index; the young one is past the boundary.
    assert report == {"examined": 4, "requeued": 2, "failed": 0, "late": 0}
    assert swept.queue_depth() == 2
    assert swept.store.get("acme", lost.id).requeued_at is not None
    assert swept.store.get("acme", running.id).requeued_at is None
    assert swept.store.get("acme", expired.id).requeued_at is None

    # Sent again only after another `orphan_after` without a worker taking it.
    assert swept.functions.invoke("sweeper", load_event("sweeper_schedule"))["requeued"] == 0
    assert swept.queue_depth() == 2

    swept.run_worker()
    assert swept.store.get("acme", lost.id).status == TaskStatus.COMPLETED
    assert swept.store.get("globex", other_tenant.id).status == TaskStatus.COMPLETED
    assert swept.store.get("acme", young.id).status == TaskStatus.CREATED
    assert swept.store.get("acme", ended.id).status == TaskStatus.COMPLETED


def test_a_requeued_task_still_created_later_is_sent_again(swept):
    lost = orphan(swept, 2 * MINUTE)
    tool = build_sweeper(SweeperSettings())
    assert tool.sweep().requeued == 1
    assert tool.sweep(at_ms=now_ms() + 30_000).requeued == 0
    assert tool.sweep(at_ms=now_ms() + 61_000).requeued == 1
    assert swept.queue_depth() == 2
    # Both messages for one task: the worker runs it once, the duplicate is acknowledged.
    swept.run_worker()
    task = swept.store.get("acme", lost.id)
    assert task.status == TaskStatus.COMPLETED and task.attempt == 1
    assert swept.queue_depth() == 0


def test_the_sweep_reads_the_index_page_by_page(swept):
    ids = {orphan(swept, 2 * MINUTE + i).id for i in range(7)}
    tool = Sweeper(swept.store, build_sweeper(SweeperSettings()).queue, after_ms=MINUTE, page_size=2)
    assert tool.sweep().requeued == 7
    assert {swept.store.get("acme", i).requeued_at is not None for i in ids} == {True}


def test_batch_items_waiting_their_turn_are_never_re_sent(swept):
    """Items a batch job queued wait in their own queue, maybe for hours behind a large batch: long past
    the orphan threshold, they are queued, not lost, and the sweeper leaves them alone."""
    requests = [
        {"custom_id": f"r{i}", "body": {"model": "demo-chat", "messages": [{"role": "user", "content": f"q{i}"}]}}
        for i in range(30)
    ]
    status, batch = swept.api("POST", "/v1/batches", body={"requests": requests}, function="api_batches")
    assert status == 200, batch
    swept.run_queue("batch")  # the items exist and are queued; no worker has run
    queued = swept.queue_depth(swept.resources.batch_items_queue_url)
    assert queued == 30
    report = build_sweeper(SweeperSettings()).sweep(at_ms=now_ms() + 60 * MINUTE)
    assert report.requeued == 0
    assert swept.queue_depth(swept.resources.batch_items_queue_url) == queued and swept.queue_depth() == 0
