import json
import time

import pytest

from asyncinfer import wiring
from asyncinfer.blobs.s3 import S3BlobStore
from asyncinfer.config import WorkerSettings
from asyncinfer.domain.model import TaskStatus, Usage, now_ms
from asyncinfer.handlers import api_async, worker
from asyncinfer.providers.base import Finished, ProviderError, TextDelta
from asyncinfer.providers.demo.chat import DemoChatProvider
from asyncinfer.providers.registry import load_registry
from asyncinfer.queue.base import TaskMessage
from asyncinfer.surfaces.async_api import internal_id
from asyncinfer.tasks.outcomes import Outcome, RetryLater, WorkerConfig
from asyncinfer.tasks.worker import Worker
from tests.integration.conftest import REFERENCE_BODY

pytestmark = pytest.mark.integration
LONG = 60_000


def submit(aws, body=REFERENCE_BODY, tenant="acme") -> str:
    status, answer = aws.api("POST", "/v1/async", body=body, tenant=tenant)
    assert status == 200
    return internal_id(answer["id"])


def make_worker(aws, provider, **config) -> Worker:
    settings = {
        "flush_seconds": 0.01,
        "max_attempts": 3,
        "inline_result_bytes": 16 * 1024,
        "deadline_margin_ms": 0,
        **config,
    }
    return Worker(
        aws.store,
        S3BlobStore(aws.s3, aws.resources.bucket_name),
        load_registry(),
        lambda spec: provider,
        WorkerConfig(**settings),
        sealer=wiring.sealer(WorkerSettings()),
    )


class ScriptedProvider:
    """Yields `words` with a pause each, then runs `on_chunk(i)` hooks; counts what it produced."""

    def __init__(self, words=20, pause=0.0, fail: ProviderError | None = None, on_chunk=None):
        self.words, self.pause, self.fail, self.on_chunk = words, pause, fail, on_chunk
        self.produced = 0
        self.closed_early = False

    def stream_chat(self, upstream_model, request):
        try:
            for i in range(self.words):
                if self.fail and i == 2:
                    raise self.fail
                time.sleep(self.pause)
                self.produced += 1
                if self.on_chunk:
                    self.on_chunk(i)
                yield TextDelta(f"w{i} ")
            yield Finished("stop", Usage(prompt_tokens=1, completion_tokens=self.words, total_tokens=self.words + 1))
        except GeneratorExit:
            self.closed_early = True
            raise


def test_the_worker_handler_completes_a_task_and_logs_its_deltas(aws):
    task_id = submit(aws)
    assert aws.run_worker() == 1
    task = aws.store.get("acme", task_id)
    assert task.status == TaskStatus.COMPLETED
    assert task.attempt == 1
    assert task.lease_expires_at is None
    content = task.result["choices"][0]["message"]["content"]
    assert "quantum computing" in content
    assert task.usage.completion_tokens == len(content.split())
    events = aws.store.read_events("acme", task_id)
    assert "".join(e["text"] for e in events if e["type"] == "delta") == content
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    assert aws.queue_depth() == 0


def test_a_duplicate_delivery_after_completion_changes_nothing(aws):
    task_id = submit(aws)
    aws.run_worker()
    before = aws.store.get("acme", task_id)
    events_before = aws.store.read_events("acme", task_id)
    aws.sqs.send_message(
        QueueUrl=aws.resources.queue_url, MessageBody=TaskMessage(tenant="acme", task_id=task_id).model_dump_json()
    )
    assert aws.run_worker() == 1
    assert aws.store.get("acme", task_id) == before
    assert aws.store.read_events("acme", task_id) == events_before
    assert aws.queue_depth() == 0


def test_duplicates_in_one_batch_run_the_task_once(aws):
    task_id = submit(aws)
    message = TaskMessage(tenant="acme", task_id=task_id).model_dump_json()
    for _ in range(2):
        aws.sqs.send_message(QueueUrl=aws.resources.queue_url, MessageBody=message)
    provider = ScriptedProvider(words=10, pause=0.01)
    worker.runtime()[0].provider_for = lambda spec: provider
    assert aws.run_worker() == 3
    task = aws.store.get("acme", task_id)
    assert (task.status, task.attempt, provider.produced) == (TaskStatus.COMPLETED, 1, 10)
    assert len(aws.store.read_events("acme", task_id)) == 10


def test_the_tasks_of_one_batch_run_side_by_side(aws):
    ids = [submit(aws) for _ in range(5)]
    worker.runtime()[0].provider_for = lambda spec: DemoChatProvider(seconds=0.5)
    assert aws.run_worker() == 5
    tasks = [aws.store.get("acme", i) for i in ids]
    assert all(t.status == TaskStatus.COMPLETED for t in tasks)
    # Every task started before any finished: they overlapped instead of queueing behind each other.
    assert max(t.started_at for t in tasks) < min(t.completed_at for t in tasks)


def test_cancel_while_in_progress_stops_generation_and_never_completes(aws):
    task_id = submit(aws)

    def cancel_at_third_chunk(i):
        if i == 3:
            api_async.service().cancel("acme", task_id)

    provider = ScriptedProvider(words=200, pause=0.005, on_chunk=cancel_at_third_chunk)
    worker.runtime()[0].provider_for = lambda spec: provider
    assert aws.run_worker() == 1
    task = aws.store.get("acme", task_id)
    assert task.status == TaskStatus.CANCELLED
    assert task.result is None and task.result_key is None and task.completed_at is None
    assert provider.closed_early
    assert provider.produced < 20  # stopped at the next heartbeat, not after 200 words
    assert len(aws.store.read_events("acme", task_id)) <= 4
    assert aws.queue_depth() == 0


def test_a_transient_error_releases_the_lease_and_the_retry_completes(aws):
    task_id = submit(aws)
    flaky = ScriptedProvider(words=5, pause=0.02, fail=ProviderError("rate_limited", "429", retryable=True))
    w = make_worker(aws, flaky)
    message = TaskMessage(tenant="acme", task_id=task_id)
    with pytest.raises(RetryLater):
        w.process(message, remaining_ms=lambda: LONG)
    task = aws.store.get("acme", task_id)
    assert (task.status, task.attempt) == (TaskStatus.IN_PROGRESS, 1)
    assert task.lease_expired(now_ms())

    w.provider_for = lambda spec: ScriptedProvider(words=5)
    assert w.process(message, remaining_ms=lambda: LONG) == Outcome.COMPLETED
    task = aws.store.get("acme", task_id)
    assert (task.status, task.attempt) == (TaskStatus.COMPLETED, 2)


def test_the_handler_reports_transient_failures_as_batch_item_failures(aws):
    ok, flaky = submit(aws), submit(aws)

    class PerTask:
        def stream_chat(self, upstream, request):
            fail = ProviderError("upstream_5xx", "502", retryable=True) if request.metadata_task == flaky else None
            return ScriptedProvider(words=3, fail=fail).stream_chat(upstream, request)

    original = worker.Worker.stored_request
    worker.Worker.stored_request = lambda self, task: {**original(self, task), "metadata_task": task.id}
    try:
        worker.runtime()[0].provider_for = lambda spec: PerTask()
        aws.run_worker(max_batches=1)
    finally:
        worker.Worker.stored_request = original
    assert aws.store.get("acme", ok).status == TaskStatus.COMPLETED
    assert aws.store.get("acme", flaky).status == TaskStatus.IN_PROGRESS
    # The failed message was not deleted: it waits in flight for its backoff.
    assert aws.queue_depth() == 1


def test_a_transient_failure_comes_back_after_a_short_jittered_backoff_not_the_visibility_timeout(aws, monkeypatch):
    monkeypatch.setenv("ASYNCINFER_RETRY_BASE_SECONDS", "1")
    monkeypatch.setenv("ASYNCINFER_RETRY_MAX_SECONDS", "1")
    worker.runtime.cache_clear()
    task_id = submit(aws)
    calls = []

    class FailsOnce:
        def stream_chat(self, upstream, request):
            calls.append(1)
            fail = ProviderError("upstream_5xx", "502", retryable=True) if len(calls) == 1 else None
            return ScriptedProvider(words=3, fail=fail).stream_chat(upstream, request)

    worker.runtime()[0].provider_for = lambda spec: FailsOnce()
    started = time.monotonic()
    assert aws.run_worker(max_batches=1) == 1
    assert aws.store.get("acme", task_id).status == TaskStatus.IN_PROGRESS
    # The queue's visibility timeout is minutes; the backoff brings the message back within seconds.
    deadline = time.monotonic() + 10
    while aws.run_worker(max_batches=1) == 0:
        assert time.monotonic() < deadline, "the message did not come back"
        time.sleep(0.2)
    assert 0.9 <= time.monotonic() - started < 10
    task = aws.store.get("acme", task_id)
    assert (task.status, task.attempt) == (TaskStatus.COMPLETED, 2)


def test_retry_delays_grow_with_full_jitter_and_stop_at_the_cap():
    import random

    from asyncinfer.domain.backoff import retry_delay

    rng = random.Random(7)
    delays = {n: [retry_delay(n, base=2, cap=60, rng=rng) for _ in range(500)] for n in (1, 2, 3, 4, 8)}
    assert all(1 <= d <= 2 for d in delays[1]) and max(delays[3]) <= 8 and max(delays[8]) <= 60
    assert max(delays[8]) > 40 and len(set(delays[4])) > 5  # spread out, not one value


def test_a_permanent_provider_error_fails_the_task_with_its_code(aws):
    task_id = submit(aws)
    w = make_worker(aws, ScriptedProvider(fail=ProviderError("bad_request", "context too long", retryable=False)))
    assert w.process(TaskMessage(tenant="acme", task_id=task_id), remaining_ms=lambda: LONG) == Outcome.FAILED
    task = aws.store.get("acme", task_id)
    assert task.status == TaskStatus.FAILED
    assert task.error.model_dump() == {"code": "bad_request", "message": "context too long"}
    assert task.failed_at is not None


def test_transient_errors_stop_at_max_attempts(aws):
    task_id = submit(aws)
    w = make_worker(aws, ScriptedProvider(fail=ProviderError("rate_limited", "429", retryable=True)), max_attempts=2)
    message = TaskMessage(tenant="acme", task_id=task_id)
    with pytest.raises(RetryLater):
        w.process(message, remaining_ms=lambda: LONG)
    assert w.process(message, remaining_ms=lambda: LONG) == Outcome.FAILED
    task = aws.store.get("acme", task_id)
    assert (task.status, task.attempt, task.error.code) == (TaskStatus.FAILED, 2, "rate_limited")
    assert w.process(message, remaining_ms=lambda: LONG) == Outcome.DROPPED


def test_a_task_that_cannot_finish_in_time_fails_with_timeout(aws):
    task_id = submit(aws)
    provider = ScriptedProvider(words=1000, pause=0.01)
    w = make_worker(aws, provider, deadline_margin_ms=10_000)
    outcome = w.process(TaskMessage(tenant="acme", task_id=task_id), remaining_ms=lambda: 10_100)
    assert outcome == Outcome.FAILED
    task = aws.store.get("acme", task_id)
    assert (task.status, task.error.code) == (TaskStatus.FAILED, "timeout")
    assert provider.closed_early and provider.produced < 1000


def test_a_late_worker_cannot_overwrite_a_reclaimed_task(aws):
    task_id = submit(aws)
    message = TaskMessage(tenant="acme", task_id=task_id)

    reclaimed = []

    def expire_and_reclaim(i):
        if not reclaimed and aws.store.get("acme", task_id).event_seq > 0:
            reclaimed.append(i)
            # Worker A stalls past its lease; B re-claims and finishes first.
            aws.store.transition(
                "acme", task_id, expect={TaskStatus.IN_PROGRESS}, changes={"lease_expires_at": now_ms() - 1}
            )
            b = make_worker(aws, ScriptedProvider(words=2))
            assert b.process(message, remaining_ms=lambda: LONG) == Outcome.COMPLETED

    a = make_worker(aws, ScriptedProvider(words=50, pause=0.005, on_chunk=expire_and_reclaim))
    assert a.process(message, remaining_ms=lambda: LONG) == Outcome.ABANDONED
    task = aws.store.get("acme", task_id)
    assert (task.status, task.attempt) == (TaskStatus.COMPLETED, 2)
    assert task.result["choices"][0]["message"]["content"] == "w0 w1 "
    events = aws.store.read_events("acme", task_id)
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))  # no sequence number reused
    restart = next(i for i, e in enumerate(events) if e["type"] == "restart")
    assert "".join(e["text"] for e in events[restart + 1 :]) == "w0 w1 "


def test_large_results_go_to_s3_and_read_back(aws):
    task_id = submit(aws)
    w = make_worker(aws, ScriptedProvider(words=400), inline_result_bytes=1024)
    assert w.process(TaskMessage(tenant="acme", task_id=task_id), remaining_ms=lambda: LONG) == Outcome.COMPLETED
    task = aws.store.get("acme", task_id)
    assert task.result is None and task.result_key == f"results/acme/{task_id}/result.json"
    stored = json.loads(aws.s3.get_object(Bucket=aws.resources.bucket_name, Key=task.result_key)["Body"].read())
    status, answer = aws.api(
        "GET", f"/v1/async/task_{task_id[:8]}-{task_id[8:12]}-{task_id[12:16]}-{task_id[16:20]}-{task_id[20:]}"
    )
    assert status == 200
    assert answer["choices"] == stored["choices"]
    assert answer["choices"][0]["message"]["content"].count("w") == 400


def test_a_malformed_message_is_dropped_not_retried(aws):
    aws.sqs.send_message(QueueUrl=aws.resources.queue_url, MessageBody='{"nope": 1}')
    assert aws.run_worker() == 1
    assert aws.queue_depth() == 0


def test_a_message_for_a_missing_task_is_dropped(aws):
    aws.sqs.send_message(
        QueueUrl=aws.resources.queue_url, MessageBody=TaskMessage(tenant="acme", task_id="0" * 32).model_dump_json()
    )
    assert aws.run_worker() == 1
    assert aws.queue_depth() == 0


def test_a_stored_request_that_no_longer_parses_fails_instead_of_retrying(aws):
    task_id = submit(aws)
    aws.store.transition("acme", task_id, expect={TaskStatus.CREATED}, changes={"request": {"model": "demo-chat"}})
    assert aws.run_worker() == 1
    task = aws.store.get("acme", task_id)
    assert (task.status, task.error.code) == (TaskStatus.FAILED, "invalid_request")
    assert "messages" in task.error.message
    assert aws.queue_depth() == 0
