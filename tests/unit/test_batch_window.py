"""A batch's completion window: what it accepts, the item deadline it gives, the sweeper's one due per batch, and how
an expired batch reads on OpenAI's and Anthropic's surfaces."""

from dataclasses import dataclass, field

import pytest
from pydantic import ValidationError

from asyncinfer.domain import anthropic_messages
from asyncinfer.domain.batches import BatchRequest, window_ms
from asyncinfer.domain.deadlines import BATCH_EXPIRED, DEADLINE_EXCEEDED, START_TIMEOUT, due_times, missed
from asyncinfer.domain.model import Task, TaskKind, TaskStatus, new_task_id
from asyncinfer.domain.records import BATCH_ENDED, BATCH_EVENTS, Batch, BatchEndpoint, BatchStatus
from asyncinfer.queue.base import BatchJob, TaskMessage
from asyncinfer.store.base import Due
from asyncinfer.surfaces import anthropic_batches, openai_batches
from asyncinfer.tasks.sweeper import Sweeper

DEADLINE = 60_000
BATCH_ID = new_task_id(40_000)


def item(**fields) -> Task:
    return Task(
        id="t",
        tenant="acme",
        kind=TaskKind.CHAT,
        model="m",
        created_at=1_000,
        updated_at=1_000,
        batch_id="b",
        batch_index=0,
        **fields,
    )


def batch(**fields) -> Batch:
    base = {"id": BATCH_ID, "tenant": "acme", "endpoint": BatchEndpoint.CHAT_COMPLETIONS, "total": 5}
    return Batch(created_at=40_000, updated_at=40_000, input_key="in", **{**base, **fields})


@pytest.mark.parametrize(("text", "ms"), [("24h", 86_400_000), ("90m", 5_400_000), ("20s", 20_000), ("1", 1_000)])
def test_a_window_is_openais_24h_or_any_duration_from_a_second_to_a_week(text, ms):
    assert window_ms(text) == ms
    assert BatchRequest.model_validate({"requests": [{}], "completion_window": text}).completion_window == text


@pytest.mark.parametrize("text", ["0.5s", "169h", "8d", "soon", "", "-5"])
def test_any_other_window_is_refused_naming_the_field(text):
    with pytest.raises(ValidationError, match="completion_window"):
        BatchRequest.model_validate({"requests": [{}], "completion_window": text})


@pytest.mark.parametrize("started", [None, 50_000])
def test_an_item_past_its_batchs_window_has_expired_waiting_or_running(started):
    waiting = item(batch_deadline=DEADLINE, finish_by=DEADLINE, started_at=started)
    if started:
        waiting.status = TaskStatus.IN_PROGRESS
    assert missed(waiting, DEADLINE - 1) is None
    assert missed(waiting, DEADLINE)[0] == BATCH_EXPIRED


def test_an_items_own_deadlines_keep_their_codes_before_the_window_ends():
    own = item(batch_deadline=DEADLINE, start_by=10_000, finish_by=DEADLINE)
    assert missed(own, 10_000)[0] == START_TIMEOUT
    running = item(batch_deadline=DEADLINE, finish_by=20_000, started_at=5_000, status=TaskStatus.IN_PROGRESS)
    assert missed(running, 20_000)[0] == DEADLINE_EXCEEDED
    assert missed(item(finish_by=DEADLINE, started_at=5_000, status=TaskStatus.IN_PROGRESS), DEADLINE)[0] == (
        DEADLINE_EXCEEDED
    )


def test_the_window_is_watched_once_per_batch_not_per_item():
    assert due_times(item(batch_deadline=DEADLINE, finish_by=DEADLINE)) == []
    assert due_times(item(batch_deadline=DEADLINE, start_by=10_000, finish_by=DEADLINE)) == [10_000]
    assert due_times(item(finish_by=DEADLINE)) == [DEADLINE]


def test_an_expired_batch_is_ended_counts_its_expired_items_and_says_batch_expired():
    expired = batch(status=BatchStatus.EXPIRED, completed=2, expired=3)
    assert expired.status in BATCH_ENDED and expired.ended == 5
    assert expired.event_type == "batch.expired" and "batch.expired" in BATCH_EVENTS


def test_openais_batch_object_expires_at_the_windows_end_and_keeps_retention_apart():
    running = openai_batches.render(batch(completion_window="20s", deadline_at=60_000, expires_at=999_999))
    assert running["expires_at"] == 60 and running["retention_expires_at"] == 999_999
    assert running["expired_at"] is None and running["request_counts"]["expired"] == 0
    ended = openai_batches.render(
        batch(status=BatchStatus.EXPIRED, completed=2, expired=3, deadline_at=60_000, ended_at=61_500)
    )
    assert ended["status"] == "expired" and ended["expired_at"] == 61 and ended["completed_at"] is None
    assert ended["request_counts"] == {
        "total": 5,
        "completed": 2,
        "failed": 0,
        "cancelled": 0,
        "expired": 3,
        "pending": 0,
    }
    assert openai_batches.render(batch())["expires_at"] is None  # no window, nothing expires


def test_anthropics_message_batch_ends_with_expired_counts_and_results():
    ended = batch(endpoint=BatchEndpoint.MESSAGES, status=BatchStatus.EXPIRED, completed=2, expired=3)
    shown = anthropic_batches.render(ended.model_copy(update={"deadline_at": 60_000, "ended_at": 61_000}))
    assert shown["processing_status"] == "ended" and shown["expires_at"] == "1970-01-01T00:01:00.000Z"
    assert shown["request_counts"] == {"processing": 0, "succeeded": 2, "errored": 0, "canceled": 0, "expired": 3}
    line = {"custom_id": "q", "status": "FAILED", "error": {"code": BATCH_EXPIRED, "message": "late"}}
    assert anthropic_messages.result_line(line) == {"custom_id": "q", "result": {"type": "expired"}}
    failed = {**line, "error": {"code": "model_error", "message": "no"}}
    assert anthropic_messages.result_line(failed)["result"]["type"] == "errored"


@dataclass
class Dues:
    due: list[Due]
    cleared: list[Due] = field(default_factory=list)

    def due_before(self, at_ms, limit, after=None):
        return [d for d in self.due if d not in self.cleared and d.at_ms <= at_ms][:limit]

    def clear_due(self, due):
        self.cleared.append(due)

    def get(self, tenant, task_id):
        raise AssertionError(f"a batch's due is not a task's: {task_id}")


@dataclass
class Sent:
    messages: list = field(default_factory=list)

    def send(self, message):
        self.messages.append(message)


def test_the_sweeper_sends_a_batch_whose_window_ended_its_batch_job_once():
    dues = Dues([Due(DEADLINE, "acme", "batch:b1")])
    tasks, jobs = Sent(), Sent()
    sweeper = Sweeper(dues, tasks, after_ms=600_000, batch_jobs=jobs)
    assert sweeper.sweep_deadlines(DEADLINE - 1) == 0 and jobs.messages == []
    assert sweeper.sweep_deadlines(DEADLINE) == 1
    assert jobs.messages == [BatchJob(tenant="acme", batch_id="b1")] and dues.cleared == dues.due
    assert sweeper.sweep_deadlines(DEADLINE + 5_000) == 0 and len(jobs.messages) == 1
    assert not any(isinstance(m, TaskMessage) for m in tasks.messages)


def test_a_sweeper_without_the_batch_queue_keeps_the_due_for_one_that_has_it():
    dues = Dues([Due(DEADLINE, "acme", "batch:b1")])
    assert Sweeper(dues, Sent(), after_ms=600_000).sweep_deadlines(DEADLINE) == 0
    assert dues.cleared == []
