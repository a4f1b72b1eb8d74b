"""A batch part's orchestration on the runner (asyncinfer.runner.batch_jobs) against moto, with the real store and
worker: the items of a real batch, sent up as one job, then completed or failed per record through the worker's
normal ending (usage at the model's batch price). The steps here replay as the durable runtime does: a step whose
body ran but whose checkpoint was not saved (the invocation died) runs again, every finished step answers from its
checkpoint; after each such interruption there is still one upstream job and no item ends twice."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from asyncinfer import wiring
from asyncinfer.config import RunnerSettings, WorkerSettings
from asyncinfer.domain.batch_parts import execution_name, part_event
from asyncinfer.domain.batches import item_task_id
from asyncinfer.domain.model import TaskStatus, Usage
from asyncinfer.domain.records import BatchStatus
from asyncinfer.providers.base import ProviderError
from asyncinfer.providers.batch_jobs import BatchJobState, BatchRecord, RecordResult
from asyncinfer.runner.batch_jobs import BatchJobSteps, Look, stop_when_cancelled_or_late
from asyncinfer.runner.steps import RetryStep, StepGaveUp
from asyncinfer.store.dynamodb_records import DynamoBatchStore
from asyncinfer.tasks.provider_parts import start_part
from infra.local.batch_jobs import DemoBatchJobs
from tests.integration.test_batches import create
from tests.integration.test_long_tasks import long_tasks  # noqa: F401  (the durable runtime fixture)

pytestmark = pytest.mark.integration
PRICED = Path(__file__).resolve().parents[2] / "functions/asyncinfer/models.priced.json"


ATTEMPTS = 4  # handlers/runner.py: STEP_ATTEMPTS


class Interrupted(Exception):
    pass


class ReplayingSteps:
    """The durable runtime's replay, in memory: `interrupt` names a step whose first run dies after its body. As the
    runner's handler configures it, a RetryStep is tried again (a few times), anything else fails the step."""

    def __init__(self, interrupt: str | None = None, wait: float = 0.0) -> None:
        self.checkpoints: dict[str, Any] = {}
        self.interrupt = interrupt
        self.ran: list[str] = []
        self.waits: list[int] = []
        self._wait = wait

    def step(self, name: str, body):
        if name in self.checkpoints:
            return self.checkpoints[name]
        self.ran.append(name)
        for attempt in range(ATTEMPTS):
            try:
                value = body()
                break
            except RetryStep as exc:
                if attempt == ATTEMPTS - 1:
                    raise StepGaveUp(exc.code, str(exc)) from None
            except Exception as exc:  # not retried: the step fails
                raise StepGaveUp("step_failed", str(exc)) from None
        result = json.loads(json.dumps(value))
        if name == self.interrupt:
            self.interrupt = None
            raise Interrupted(name)
        self.checkpoints[name] = result
        return result

    def pause(self, name: str, seconds: int) -> None:
        self.waits.append(seconds)
        if self._wait:
            import time

            time.sleep(self._wait)  # the stand-in's job runs on its own clock

    def remaining_ms(self) -> int:
        return 600_000


class FakeJobs:
    """Answers every record but `absent`, fails `failing`; ends after `polls` polls."""

    def __init__(self, absent: set[int], failing: set[int], polls: int = 2) -> None:
        self.absent, self.failing, self.polls = absent, failing, polls
        self.started = 0
        self.polled = 0
        self.records: list[int] = []

    def prepare(self, upstream_model: str, records: list[BatchRecord]) -> bytes:
        self.records = [r.index for r in records]
        return "".join(json.dumps({"i": r.index}) + "\n" for r in records).encode()

    def start(self, upstream_model, data, input_uri, output_uri, token) -> dict:
        self.started += 1
        assert input_uri.endswith("/upstream/0/input.jsonl") and input_uri.startswith("s3://")
        return {"id": f"job-{self.started}", "token": token}

    def poll(self, job: dict) -> BatchJobState:
        self.polled += 1
        ended = self.polled >= self.polls
        state = "ended" if ended else "running"
        return BatchJobState(state, "Completed" if ended else "InProgress", self.polled, len(self.records))

    def results(self, job: dict):
        for index in self.records:
            if index in self.absent:
                continue
            if index in self.failing:
                yield RecordResult(index, code="provider_rejected", message="bad record")
            else:
                usage = Usage(prompt_tokens=1_000_000, completion_tokens=0, total_tokens=1_000_000)
                yield RecordResult(index, text=f"answer {index}", usage=usage)

    def stop(self, job: dict) -> None:
        raise AssertionError("nothing asked to stop")


def made_batch(aws, count: int, model: str) -> str:
    requests = [
        {"custom_id": f"r{i}", "body": {"model": model, "messages": [{"role": "user", "content": f"q {i}"}]}}
        for i in range(count)
    ]
    status, batch = create(aws, {"requests": requests})
    assert status == 200, batch
    aws.run_queue("batch")  # its items, made (the lane that would run them on demand is not run here)
    return batch["id"].removeprefix("batch_").replace("-", "")


def batches() -> DynamoBatchStore:
    return DynamoBatchStore(wiring.client("dynamodb"), WorkerSettings().table_name)


class Named:
    def __init__(self) -> None:
        self.started: list[tuple[str, dict]] = []

    def start_named(self, name: str, event: dict) -> str:
        self.started.append((name, event))
        return f"arn:{name}"


@pytest.fixture
def priced(aws, monkeypatch):
    monkeypatch.setenv("ASYNCINFER_MODELS_FILE", str(PRICED))
    return aws


@pytest.mark.parametrize("interrupt", [None, "prepare", "start", "poll-0", "results", "collect-0", "absent"])
def test_one_job_per_part_and_each_item_ended_once_whatever_step_is_interrupted(priced, interrupt):
    aws = priced
    batch_id = made_batch(aws, 12, "demo-batch-bedrock")
    worker = wiring.worker(WorkerSettings())
    named = Named()
    start_part(named, worker.blobs, "acme", batch_id, 0, "demo-batch-bedrock", list(range(12)))
    assert named.started == [(execution_name(batch_id, 0), part_event("acme", batch_id, 0))]
    fake, handed = FakeJobs(absent={3, 7}, failing={5}), []
    part = BatchJobSteps(worker, batches(), lambda spec: fake, lambda tenant, batch, absent: handed.append(absent))
    steps = ReplayingSteps(interrupt)
    try:
        ended = part.run("acme", batch_id, 0, steps)
    except Interrupted:
        ended = part.run("acme", batch_id, 0, steps)  # the next invocation: the same execution from the top
    assert fake.started == 1, "one upstream job"
    assert ended["status"] == "Completed" and ended["absent"] == [3, 7]
    assert handed == [[3, 7]] if interrupt != "absent" else handed == [[3, 7], [3, 7]]
    assert steps.waits and set(steps.waits) == {5}, "waits up to the model's batch.poll_seconds (5 s for the demo)"
    tasks = batches().get_tasks("acme", [item_task_id(batch_id, i) for i in range(12)])
    by_index = {t.batch_index: t for t in tasks.values()}
    assert {i for i, t in by_index.items() if t.status == TaskStatus.COMPLETED} == set(range(12)) - {3, 5, 7}
    assert by_index[5].status == TaskStatus.FAILED and by_index[5].error.code == "provider_rejected"
    assert by_index[3].status == TaskStatus.CREATED, "absent: the caller's to route"
    done = by_index[0]
    assert done.attempt == 1, "claimed once"
    assert done.usage.cost.total_cost == 1.5, "a million input tokens at the batch price (3.0 on demand)"


class Refusing(FakeJobs):
    def start(self, upstream_model, data, input_uri, output_uri, token) -> dict:
        raise ProviderError("provider_rejected", "The input has too few records", retryable=False)


class Throttled(FakeJobs):
    throttled = 0

    def start(self, upstream_model, data, input_uri, output_uri, token) -> dict:
        if not self.throttled:
            self.throttled += 1
            raise ProviderError("provider_throttled", "slow down", retryable=True)
        return super().start(upstream_model, data, input_uri, output_uri, token)


def test_a_job_the_upstream_refuses_gives_the_part_up_and_hands_its_items_back(priced):
    aws = priced
    batch_id = made_batch(aws, 10, "demo-batch-openai")
    worker = wiring.worker(WorkerSettings())
    start_part(Named(), worker.blobs, "acme", batch_id, 0, "demo-batch-openai", list(range(10)))
    handed = []
    part = BatchJobSteps(worker, batches(), lambda spec: Refusing(set(), set()), lambda t, b, a: handed.append(a))
    ended = part.run("acme", batch_id, 0, ReplayingSteps())
    assert ended["status"] == "gave_up" and ended["code"] == "step_failed" and "too few" in ended["message"]
    assert handed == [list(range(10))] and ended["absent"] == list(range(10))


def test_a_throttled_start_is_tried_again_and_still_makes_one_job(priced):
    aws = priced
    batch_id = made_batch(aws, 10, "demo-batch-openai")
    worker = wiring.worker(WorkerSettings())
    start_part(Named(), worker.blobs, "acme", batch_id, 0, "demo-batch-openai", list(range(10)))
    fake = Throttled(set(), set())
    ended = BatchJobSteps(worker, batches(), lambda spec: fake).run("acme", batch_id, 0, ReplayingSteps())
    assert fake.throttled == 1 and fake.started == 1 and ended["completed"] == 10 and ended["absent"] == []


class Stoppable(FakeJobs):
    """Runs until stopped; a stopped job has answered its first `done` records."""

    def __init__(self, done: int) -> None:
        super().__init__(absent=set(), failing=set(), polls=10**6)
        self.done, self.stopped = done, 0

    def poll(self, job: dict) -> BatchJobState:
        if self.stopped:
            return BatchJobState("ended", "Stopped", self.done, len(self.records))
        return BatchJobState("running", "InProgress", self.done, len(self.records))

    def stop(self, job: dict) -> None:
        self.stopped += 1
        self.absent = set(self.records[self.done :])


def test_a_watch_that_stops_the_job_gets_what_it_produced_and_hands_the_rest_back(priced):
    """The hook of `complete_by` escalation: at a poll of a running job, stop it, and look again sooner."""
    aws = priced
    batch_id = made_batch(aws, 12, "demo-batch-bedrock")
    worker = wiring.worker(WorkerSettings())
    start_part(Named(), worker.blobs, "acme", batch_id, 0, "demo-batch-bedrock", list(range(12)))
    fake, handed, looks = Stoppable(done=4), [], []

    def watch(batch, state, now, model) -> Look:
        looks.append(state.status)
        return Look(stop=len(looks) == 2, within_seconds=2)

    part = BatchJobSteps(worker, batches(), lambda spec: fake, lambda t, b, a: handed.append(a), watch)
    steps = ReplayingSteps()
    ended = part.run("acme", batch_id, 0, steps)
    assert fake.stopped == 1 and looks == ["InProgress", "InProgress"], "stopped once, at the second look"
    assert steps.waits == [5, 2, 2], "the watch asked to look again within 2 s"
    assert ended["status"] == "Stopped" and ended["completed"] == 4 and handed == [list(range(4, 12))]


def test_by_default_a_job_is_stopped_when_its_batch_is_cancelling_or_past_its_window(priced):
    aws = priced
    batch = batches().get_batch("acme", made_batch(aws, 10, "demo-batch-bedrock"))
    running = BatchJobState("running", "InProgress", 0, 10)
    assert stop_when_cancelled_or_late(batch, running, 0) == Look(stop=False)
    assert stop_when_cancelled_or_late(None, running, 0).stop, "a batch gone"
    assert stop_when_cancelled_or_late(batch.model_copy(update={"status": BatchStatus.CANCELLING}), running, 0).stop
    windowed = batch.model_copy(update={"deadline_at": 100_000})
    assert stop_when_cancelled_or_late(windowed, running, 90_500) == Look(stop=False, within_seconds=10)
    assert stop_when_cancelled_or_late(windowed, running, 100_000).stop


def test_too_few_items_start_no_job_and_are_all_handed_back(priced):
    aws = priced
    batch_id = made_batch(aws, 4, "demo-batch-bedrock")  # the demo model's minimum is 10
    worker = wiring.worker(WorkerSettings())
    start_part(Named(), worker.blobs, "acme", batch_id, 0, "demo-batch-bedrock", list(range(4)))
    fake, handed = FakeJobs(absent=set(), failing=set()), []
    ended = BatchJobSteps(worker, batches(), lambda spec: fake, lambda t, b, absent: handed.append(absent)).run(
        "acme", batch_id, 0, ReplayingSteps()
    )
    assert fake.started == 0 and ended["status"] == "not_started" and handed == [[0, 1, 2, 3]]


@pytest.mark.parametrize("model", ["demo-batch-bedrock", "demo-batch-openai"])
def test_a_part_runs_through_the_local_stand_in_with_the_real_clients(priced, monkeypatch, model):
    aws = priced
    stand_in = DemoBatchJobs(aws.s3, seconds=0.5, min_records=10)
    stand_in.start_serving()
    monkeypatch.setenv("ASYNCINFER_DEMO_BATCH_JOBS_URL", stand_in.url)
    try:
        batch_id = made_batch(aws, 15, model)
        part = wiring.batch_part_runner(RunnerSettings())
        start_part(Named(), part.worker.blobs, "acme", batch_id, 0, model, list(range(15)))
        steps = ReplayingSteps(interrupt="start", wait=0.1)
        try:
            ended = part.run("acme", batch_id, 0, steps)
        except Interrupted:
            ended = part.run("acme", batch_id, 0, steps)
        assert stand_in.created + stand_in.openai.created == 1, "one upstream job"
        assert ended["absent"] == [] and ended["completed"] == 15
        tasks = batches().get_tasks("acme", [item_task_id(batch_id, i) for i in range(15)]).values()
        assert {t.status for t in tasks} == {TaskStatus.COMPLETED}
        one = next(iter(tasks))
        usage = one.usage
        assert usage.prompt_tokens == 2 and usage.completion_tokens > 10
        expected = round(usage.prompt_tokens * 1.5e-6 + usage.completion_tokens * 7.5e-6, 8)
        assert usage.cost.total_cost == pytest.approx(expected), "at the batch price"
        status, read = aws.api("GET", f"/v1/async/{one.id}")
        assert status == 200 and read["status"] == "COMPLETED", read
        assert "Demo answer" in read["choices"][0]["message"]["content"]
    finally:
        stand_in.stop_serving()


def test_a_part_runs_on_the_durable_runtime_through_the_runners_handler(long_tasks, monkeypatch):  # noqa: F811
    """The real handler under the testing SDK's local durable service: started by name (start_part), dispatched
    on the event's shape, one job, every item completed, and the history's steps as designed."""
    aws, durable = long_tasks
    monkeypatch.setenv("ASYNCINFER_MODELS_FILE", str(PRICED))
    stand_in = DemoBatchJobs(aws.s3, seconds=0.5, min_records=10)
    stand_in.start_serving()
    monkeypatch.setenv("ASYNCINFER_DEMO_BATCH_JOBS_URL", stand_in.url)
    try:
        batch_id = made_batch(aws, 12, "demo-batch-bedrock")
        blobs = wiring.worker(WorkerSettings()).blobs
        arn = start_part(durable.executions(), blobs, "acme", batch_id, 0, "demo-batch-bedrock", list(range(12)))
        again = start_part(durable.executions(), blobs, "acme", batch_id, 0, "demo-batch-bedrock", list(range(12)))
        assert arn and again == arn, "the same name: the same execution"
        ended = durable.wait(arn, timeout=60)
        assert ended["Status"] == "SUCCEEDED", ended
        assert json.loads(ended["Result"])["completed"] == 12
        assert stand_in.created == 1
        tasks = batches().get_tasks("acme", [item_task_id(batch_id, i) for i in range(12)]).values()
        assert {t.status for t in tasks} == {TaskStatus.COMPLETED}
        history = durable.client().get_durable_execution_history(DurableExecutionArn=arn)["Events"]
        steps = [e["Name"] for e in history if e["EventType"] == "StepSucceeded"]
        assert steps[:2] == ["prepare", "start"] and steps[-2:] == ["results", "collect-0"], steps
        assert any(e["EventType"].startswith("Wait") for e in history), "the polls wait without compute"
    finally:
        stand_in.stop_serving()
