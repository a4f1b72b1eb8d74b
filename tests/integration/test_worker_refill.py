"""A worker invocation that keeps its instance full, through the real handler on the emulator: it receives
more messages from its queue as slots free, runs at most its slots at once, ends each message as the event
source would (deleted when done, held back for a retry) and completes every task once."""

from __future__ import annotations

import threading
import time
from collections import Counter

import pytest

from asyncinfer.domain.model import TaskStatus
from asyncinfer.handlers import worker
from asyncinfer.providers.base import ProviderError
from asyncinfer.providers.demo.chat import DemoChatProvider
from infra.local.poller import Poller
from tests.integration.conftest import REFERENCE_BODY
from tests.integration.test_worker import submit
from tests.support.completions import CountsCompletions

pytestmark = pytest.mark.integration
SLOTS = 6


class Streams:
    """The demo model, counting the streams open at once; a task whose prompt is in `fail_once` fails its
    first stream with a 503."""

    def __init__(self, seconds: float, fail_once: set[str] = frozenset()) -> None:
        self._demo = DemoChatProvider(seconds=seconds)
        self._lock = threading.Lock()
        self.open = self.most = 0
        self.fail_once = set(fail_once)

    def stream_chat(self, upstream, request):
        with self._lock:
            self.open += 1
            self.most = max(self.most, self.open)
            fail = request.last_user_text() in self.fail_once
            self.fail_once.discard(request.last_user_text())
        try:
            if fail:
                raise ProviderError("upstream_5xx", "503", retryable=True)
            yield from self._demo.stream_chat(upstream, request)
        finally:
            with self._lock:
                self.open -= 1


@pytest.fixture
def slotted(aws, monkeypatch):
    monkeypatch.setenv("ASYNCINFER_WORKER_SLOTS", str(SLOTS))
    monkeypatch.setenv("ASYNCINFER_REFILL_WAIT_SECONDS", "1")
    monkeypatch.setenv("ASYNCINFER_RETRY_BASE_SECONDS", "1")
    monkeypatch.setenv("ASYNCINFER_RETRY_MAX_SECONDS", "1")
    worker.runtime.cache_clear()
    runtime = worker.runtime()[0]
    runtime.store = counted = CountsCompletions(runtime.store)
    # One message per event: everything else the invocation runs, it received itself.
    poller = Poller(aws.sqs, aws.resources.queue_url, aws.resources.queue_arn, aws.functions, "worker", batch_size=1)
    yield runtime, counted, poller
    worker.runtime.cache_clear()


def prompt_of(i: int) -> dict:
    return {**REFERENCE_BODY, "messages": [{"role": "user", "content": f"task {i}"}]}


def test_one_invocation_with_one_message_runs_the_whole_queue_at_most_its_slots_at_once(aws, slotted):
    runtime, counted, poller = slotted
    ids = [submit(aws, prompt_of(i)) for i in range(26)]
    streams = Streams(seconds=0.3)
    runtime.provider_for = lambda spec: streams
    assert poller.poll_once() == 1  # one invocation, its event one message
    tasks = [aws.store.get("acme", task_id) for task_id in ids]
    assert [t.status for t in tasks] == [TaskStatus.COMPLETED] * 26
    assert counted.completed == Counter({task_id: 1 for task_id in ids})
    assert all(t.attempt == 1 for t in tasks)
    assert 2 <= streams.most <= SLOTS, streams.most  # side by side, never more than its slots
    assert aws.queue_depth() == 0  # every message deleted: the event's by the event source, the rest by it


def test_a_received_message_whose_task_fails_transiently_comes_back_after_its_back_off(aws, slotted):
    runtime, counted, poller = slotted
    ids = [submit(aws, prompt_of(i)) for i in range(4)]
    streams = Streams(seconds=0, fail_once={"task 2"})
    runtime.provider_for = lambda spec: streams
    assert poller.poll_once() == 1
    # The invocation long-polled a second for more while tasks ran, so it may have run the retry itself.
    flaky = aws.store.get("acme", ids[2])
    if flaky.status != TaskStatus.COMPLETED:
        assert flaky.status == TaskStatus.IN_PROGRESS and aws.queue_depth() == 1  # held back, not deleted
        deadline = time.monotonic() + 10
        while poller.poll_once() == 0:
            assert time.monotonic() < deadline, "the held-back message never came back"
            time.sleep(0.1)
    tasks = [aws.store.get("acme", task_id) for task_id in ids]
    assert [t.status for t in tasks] == [TaskStatus.COMPLETED] * 4
    assert aws.store.get("acme", ids[2]).attempt == 2
    assert counted.completed == Counter({task_id: 1 for task_id in ids})
    assert aws.queue_depth() == 0


def test_an_invocation_whose_local_runtime_stops_takes_no_more_work_and_hands_its_event_back(aws, slotted):
    runtime, counted, poller = slotted
    ids = [submit(aws, prompt_of(i)) for i in range(5)]
    runtime.provider_for = lambda spec: Streams(seconds=0)
    aws.functions.stop()  # the local stack's Ctrl-C, as its pollers may still deliver an event
    assert poller.poll_once() == 1
    assert {aws.store.get("acme", task_id).status for task_id in ids} == {TaskStatus.CREATED}
    assert counted.completed == Counter()
    assert aws.queue_depth() == 5  # nothing taken for good: the event's message reported failed, none received
