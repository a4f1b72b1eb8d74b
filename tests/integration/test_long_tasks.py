"""Long tasks on the durable runner, against the emulator: the worker dispatches through boto3's Invoke,
the testing SDK's local durable execution service runs the execution and invokes the runner's real
handler, checkpoints and all (tests/support/durable.py)."""

from __future__ import annotations

import io
import json

import av
import pytest

from asyncinfer.domain.model import TaskStatus, now_ms
from asyncinfer.handlers import runner
from asyncinfer.providers.base import ProviderError
from asyncinfer.providers.demo.research import DemoResearchProvider, Pace
from asyncinfer.providers.openai_jobs import OpenAIBackgroundJobs
from asyncinfer.tasks.event_log import EventLog
from infra.local.video_jobs import DemoVideoJobs
from tests.e2e.conftest import wait_for
from tests.support.durable import RUNNER_ARN, DurableRuntime
from tests.support.models_file import serve_models
from tests.support.openai_server import OpenAIServer


@pytest.fixture
def long_tasks(aws, monkeypatch):
    monkeypatch.setenv("ASYNCINFER_RUNNER_FUNCTION_ARN", RUNNER_ARN)
    monkeypatch.setenv("ASYNCINFER_DEMO_RESEARCH_STEP_SECONDS", "0")
    monkeypatch.setenv("ASYNCINFER_DEMO_RESEARCH_TOOL_SECONDS", "0")
    with DurableRuntime(lambda event: aws.functions.invoke("runner", event)) as durable:
        yield aws, durable


def submit_research(aws, prompt: str = "Why is the sky blue?", **pace) -> str:
    body = {
        "model": "demo-deep-research",
        "messages": [{"role": "user", "content": prompt}],
        "demo_research": {"steps": 2, "step_seconds": 0, **pace},
    }
    status, task = aws.api("POST", "/v1/async", body=body)
    assert status == 200, task
    return task["id"]


def hex_of(public_id: str) -> str:
    return public_id.removeprefix("task_").replace("-", "")


def events_of(aws, task_id: str) -> list[dict]:
    return aws.store.read_events("acme", hex_of(task_id))


def spoken(events: list[dict]) -> str:
    return "".join(e["text"] for e in events if e["type"] == "delta")


def run(aws, durable, task_id: str) -> dict:
    aws.run_worker()
    task = aws.store.get("acme", hex_of(task_id))
    assert task.execution_arn, "the worker started an execution"
    durable.wait(task.execution_arn)
    status, read = aws.api("GET", f"/v1/async/{task_id}")
    assert status == 200
    return read


def test_a_deep_research_task_runs_as_checkpointed_steps_and_completes(long_tasks):
    aws, durable = long_tasks
    task_id = submit_research(aws, steps=3)
    done = run(aws, durable, task_id)
    assert done["status"] == "COMPLETED", done
    message = done["choices"][0]["message"]
    assert message["content"].startswith("Research report after 3 searches.")
    assert [s["mcp_tool_call"]["tool"] for s in message["reasoning_steps"]] == ["search"] * 3
    execution = aws.store.get("acme", hex_of(task_id)).execution_arn
    history = durable.client().get_durable_execution_history(DurableExecutionArn=execution)["Events"]
    steps = [e["Name"] for e in history if e["EventType"] == "StepSucceeded"]
    assert steps == [
        "begin",
        "tools",
        "turn-0",
        "tool-0-0",
        "turn-1",
        "tool-1-0",
        "turn-2",
        "tool-2-0",
        "turn-3",
        "finish",
    ]
    events = events_of(aws, task_id)
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    assert spoken(events) == "".join(s["thought"] for s in message["reasoning_steps"]) + message["content"]
    # Its progress, step by step: the model tells its plan (3 searches and the report), so a percent too.
    progress = [{k: e[k] for k in ("step", "steps", "percent")} for e in events if e["type"] == "progress"]
    assert progress == [{"step": n, "steps": 4, "percent": round(100 * n / 4, 1)} for n in (1, 2, 3)]
    # Its last report came before the report was written: once completed, a read says all of it is done.
    assert done["progress"] == {"step": 4, "steps": 4, "percent": 100.0, "message": "called research__search"}


def test_the_worker_starts_one_execution_per_task_however_often_its_message_comes(long_tasks):
    aws, durable = long_tasks
    task_id = submit_research(aws)
    message = aws.sqs.receive_message(QueueUrl=aws.resources.queue_url)["Messages"][0]
    aws.sqs.send_message(QueueUrl=aws.resources.queue_url, MessageBody=message["Body"])  # a duplicate
    aws.sqs.change_message_visibility(
        QueueUrl=aws.resources.queue_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
    )
    done = run(aws, durable, task_id)
    assert done["status"] == "COMPLETED"
    found = durable.client().list_durable_executions_by_function(
        FunctionName="asyncinfer-runner", DurableExecutionName=hex_of(task_id)
    )["DurableExecutions"]
    assert len(found) == 1
    assert aws.queue_depth() == 0
    aws.run_worker()
    assert aws.store.get("acme", hex_of(task_id)).status == TaskStatus.COMPLETED


def test_a_step_that_fails_midway_runs_again_without_writing_its_events_twice_or_counting_usage_twice(
    long_tasks, monkeypatch
):
    aws, durable = long_tasks
    calm = run(aws, durable, submit_research(aws, prompt="flaky"))
    fails = {"left": 1}

    class FailsOnceMidTurn(DemoResearchProvider):
        def stream_chat(self, upstream, request):
            for i, chunk in enumerate(super().stream_chat(upstream, request)):
                if i == 5 and fails["left"] and any(m.role == "tool" for m in request.messages):
                    fails["left"] -= 1
                    raise ProviderError("provider_error", "503 midway", retryable=True)
                yield chunk

    runner.runtime().worker.provider_for = lambda spec: FailsOnceMidTurn(Pace(2, 0))
    task_id = submit_research(aws, prompt="flaky")
    flaky = run(aws, durable, task_id)
    assert fails["left"] == 0, "the fault happened"
    assert flaky["status"] == "COMPLETED"
    assert flaky["choices"] == calm["choices"]
    assert flaky["usage"] == calm["usage"], "the failed turn's usage is not counted"
    events = events_of(aws, task_id)
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    assert spoken(events) == spoken(events_of(aws, calm["id"])), "no delta written twice"
    assert "restart" not in {e["type"] for e in events}
    history = durable.client().get_durable_execution_history(
        DurableExecutionArn=aws.store.get("acme", hex_of(task_id)).execution_arn
    )["Events"]
    assert [e["EventType"] for e in history].count("StepFailed") == 1, "one attempt failed, then it was retried"


def test_cancelling_a_long_task_stops_its_execution(long_tasks):
    aws, durable = long_tasks
    task_id = submit_research(aws, steps=50, step_seconds=0.2)
    aws.run_worker()
    arn = aws.store.get("acme", hex_of(task_id)).execution_arn
    status, cancelled = aws.api("POST", f"/v1/async/{task_id}/cancel")
    assert status == 200 and cancelled["status"] == "CANCELLED"
    assert durable.wait(arn)["Status"] == "STOPPED"
    assert aws.store.get("acme", hex_of(task_id)).status == TaskStatus.CANCELLED


def test_a_task_whose_execution_ended_without_it_is_failed_not_left_running(long_tasks, monkeypatch):
    aws, durable = long_tasks
    monkeypatch.setenv("ASYNCINFER_ORPHAN_AFTER_SECONDS", "1")
    task_id = submit_research(aws, steps=50, step_seconds=0.2)
    aws.run_worker()
    task = aws.store.get("acme", hex_of(task_id))
    durable.client().stop_durable_execution(DurableExecutionArn=task.execution_arn)  # as if it gave up
    durable.wait(task.execution_arn)
    aws.store.transition(
        "acme", task.id, expect={TaskStatus.CREATED, TaskStatus.IN_PROGRESS}, changes={"status": TaskStatus.IN_PROGRESS}
    )
    assert aws.api("GET", f"/v1/async/{task_id}")[1]["status"] == "IN_PROGRESS"
    # Once it has been quiet for the sweeper's orphan time (a second here), the sweeper fails it.
    assert wait_for(lambda: aws.functions.invoke("sweeper", {})["failed"], timeout=15) == 1
    failed = aws.store.get("acme", task.id)
    assert failed.status == TaskStatus.FAILED and failed.error.code == "runner_failed"


@pytest.fixture
def video_jobs(long_tasks, monkeypatch):
    aws, durable = long_tasks
    jobs = DemoVideoJobs(aws.s3, seconds=1)
    jobs.start_serving()
    monkeypatch.setenv("ASYNCINFER_DEMO_VIDEO_JOBS_URL", jobs.url)
    monkeypatch.setenv("ASYNCINFER_JOB_POLL_SECONDS", "1")
    yield aws, durable, jobs
    jobs.stop()


def test_a_video_runs_as_an_upstream_job_whose_mp4_lands_in_the_tasks_outputs(video_jobs):
    aws, durable, _ = video_jobs
    status, created = aws.api(
        "POST", "/v1/generation", body={"model": "demo-video", "config": {"prompt": "a cat"}}, function="api_netmind"
    )
    assert status == 200, created
    aws.run_worker()
    task = aws.store.get("acme", created["id"])
    assert durable.wait(task.execution_arn)["Status"] == "SUCCEEDED"
    status, done = aws.api("GET", f"/v1/generation/{created['id']}", function="api_netmind")
    assert done["status"] == "completed", done
    (file,) = done["result"]["data"]
    assert file["file_type"] == "video" and file["url"].startswith("https://")
    (output,) = aws.store.get("acme", created["id"]).outputs
    assert output.key.startswith(f"outputs/acme/{created['id']}/") and output.key.endswith("/output.mp4")
    video = aws.s3.get_object(Bucket=aws.resources.bucket_name, Key=output.key)["Body"].read()
    with av.open(io.BytesIO(video)) as container:
        frames = sum(1 for _ in container.decode(video=0))
        assert (container.streams.video[0].width, container.streams.video[0].height) == (1280, 720)
    assert frames == 6 * 24
    events = aws.store.read_events("acme", created["id"])
    assert events[0]["type"] == "job_started" and events[-1]["type"] == "output"


@pytest.fixture
def background(long_tasks, monkeypatch, tmp_path):
    """A registry whose provider serves its models as background responses, from a real HTTP server."""
    aws, durable = long_tasks
    with OpenAIServer() as server:
        registry = {
            "version": 1,
            "providers": {
                "upstream": {
                    "type": "openai",
                    "base_url": server.base_url,
                    "api_key": {"env": "UPSTREAM_KEY"},
                    "background": True,
                }
            },
            "models": {
                "deep-bg": {"provider": "upstream", "upstream": "bg", "kind": "chat", "runs": "durable"},
                "deep-forever": {"provider": "upstream", "upstream": "bg-forever", "kind": "chat", "runs": "durable"},
            },
        }
        serve_models(registry, tmp_path, monkeypatch)
        monkeypatch.setenv("UPSTREAM_KEY", "sk-upstream")
        monkeypatch.setenv("ASYNCINFER_JOB_POLL_SECONDS", "1")
        yield aws, durable, server


def submit_chat(aws, model: str) -> str:
    body = {"model": model, "messages": [{"role": "user", "content": "Summarize the tides"}]}
    status, task = aws.api("POST", "/v1/async", body=body)
    assert status == 200, task
    return task["id"]


def test_a_background_response_is_started_once_polled_without_compute_and_its_answer_kept(background):
    aws, durable, server = background
    task_id = submit_chat(aws, "deep-bg")
    done = run(aws, durable, task_id)
    assert done["status"] == "COMPLETED", done
    assert done["choices"][0]["message"]["content"] == "Background answer to: Summarize the tides"
    assert done["usage"]["prompt_tokens"] == 7
    (created,) = [r for r in server.recorded.requests if r["_path"].endswith("/responses")]
    assert created["background"] is True and created["model"] == "bg"
    headers = {name.lower(): value for name, value in created["_headers"].items()}
    assert headers["idempotency-key"] == hex_of(task_id), "a start repeated after an interruption is the same job"
    history = durable.client().get_durable_execution_history(
        DurableExecutionArn=aws.store.get("acme", hex_of(task_id)).execution_arn
    )["Events"]
    assert [e["EventType"] for e in history].count("WaitStarted") >= 1, "it waited without compute"


def test_cancelling_a_background_response_cancels_it_upstream_at_the_next_poll(background):
    aws, durable, server = background
    task_id = submit_chat(aws, "deep-forever")
    aws.run_worker()
    arn = aws.store.get("acme", hex_of(task_id)).execution_arn
    wait_for(lambda: server.recorded.responses, timeout=15, what="the job upstream")
    status, cancelled = aws.api("POST", f"/v1/async/{task_id}/cancel")
    assert status == 200 and cancelled["status"] == "CANCELLED"
    ended = durable.wait(arn, timeout=15)
    # It finds the task ended at its next poll (dropped), or as the poll it was in wrote (abandoned), and ends too.
    assert json.loads(ended["Result"])["outcome"] in {"dropped", "abandoned"}, ended["Result"]
    assert server.recorded.cancelled == list(server.recorded.responses)
    assert aws.store.get("acme", hex_of(task_id)).status == TaskStatus.CANCELLED


def test_a_task_cancelled_while_its_job_is_being_polled_cancels_the_job_upstream(background, monkeypatch):
    aws, durable, server = background
    task_id = submit_chat(aws, "deep-forever")
    real_poll, polls = OpenAIBackgroundJobs.poll, []

    def poll_then_cancel(self, job):
        polls.append(job["id"])
        if len(polls) == 2:  # the second poll: the task is cancelled after its claim was read, before it writes
            assert aws.api("POST", f"/v1/async/{task_id}/cancel")[0] == 200
        return real_poll(self, job)

    monkeypatch.setattr(OpenAIBackgroundJobs, "poll", poll_then_cancel)
    aws.run_worker()
    ended = durable.wait(aws.store.get("acme", hex_of(task_id)).execution_arn, timeout=15)
    assert json.loads(ended["Result"]) == {"outcome": "abandoned"}, "the poll's write found the claim lost"
    assert server.recorded.cancelled == list(server.recorded.responses), "and its job upstream was cancelled"
    assert aws.store.get("acme", hex_of(task_id)).status == TaskStatus.CANCELLED


def test_a_deployment_without_a_runner_refuses_long_tasks_at_submit_and_stores_nothing(aws):
    status, answer = aws.api(
        "POST",
        "/v1/async",
        body={"model": "demo-deep-research", "messages": [{"role": "user", "content": "Why?"}]},
    )
    assert status == 400
    assert answer["error"]["code"] == "long_tasks_unavailable"
    assert "no long-task runner" in answer["error"]["message"]
    assert aws.queue_depth() == 0
    status, listed = aws.api("GET", "/v1/async")
    assert listed["tasks"] == []


def test_a_background_response_past_its_deadline_is_cancelled_upstream_and_fails(background):
    aws, durable, server = background
    body = {"model": "deep-forever", "messages": [{"role": "user", "content": "Forever"}], "execution_timeout": 2}
    status, task = aws.api("POST", "/v1/async", body=body)
    assert status == 200, task
    aws.run_worker()
    ended = durable.wait(aws.store.get("acme", hex_of(task["id"])).execution_arn, timeout=20)
    assert json.loads(ended["Result"]) == {"outcome": "failed"}
    done = aws.store.get("acme", hex_of(task["id"]))
    assert done.status == TaskStatus.FAILED and done.error.code == "deadline_exceeded", done
    assert 0 <= done.failed_at - done.finish_by < 2_000, "failed at the first poll after its deadline"
    assert server.recorded.cancelled == list(server.recorded.responses), "its job upstream was cancelled"


def test_a_long_task_whose_start_deadline_passed_is_never_handed_to_the_runner(long_tasks):
    aws, _ = long_tasks
    body = {"model": "demo-deep-research", "messages": [{"role": "user", "content": "late"}], "start_timeout": 0.1}
    status, task = aws.api("POST", "/v1/async", body=body)
    assert status == 200, task
    start_by = aws.store.get("acme", hex_of(task["id"])).start_by
    wait_for(lambda: now_ms() > start_by, timeout=5, what="the start deadline to pass")
    aws.run_worker()
    done = aws.store.get("acme", hex_of(task["id"]))
    assert done.status == TaskStatus.FAILED and done.error.code == "start_timeout"
    assert done.execution_arn is None and done.started_at is None


@pytest.fixture
def openai_videos(long_tasks, monkeypatch, tmp_path):
    """A video model served in the OpenAI Videos API's shape (as LiteLLM's proxy serves Veo), from a real HTTP
    server that reports its progress."""
    aws, durable = long_tasks
    with OpenAIServer() as server:
        registry = {
            "version": 1,
            "providers": {
                "upstream": {"type": "openai", "base_url": server.base_url, "api_key": {"env": "UPSTREAM_KEY"}}
            },
            "models": {
                "house-video": {
                    "provider": "upstream",
                    "upstream": "gemini/veo-3.0-generate-preview",
                    "kind": "video",
                    "runs": "durable",
                    "output_formats": ["mp4"],
                }
            },
        }
        serve_models(registry, tmp_path, monkeypatch)
        monkeypatch.setenv("UPSTREAM_KEY", "sk-upstream")
        monkeypatch.setenv("ASYNCINFER_JOB_POLL_SECONDS", "1")
        yield aws, durable, server


def test_an_openai_video_reports_its_progress_on_reads_and_its_mp4_lands_in_the_tasks_outputs(openai_videos):
    aws, durable, server = openai_videos
    body = {"model": "house-video", "config": {"prompt": "a cat on a boat", "duration": 6}}
    status, created = aws.api("POST", "/v1/generation", body=body, function="api_netmind")
    assert status == 200, created
    aws.run_worker()
    task = aws.store.get("acme", created["id"])

    def read() -> dict:
        return aws.api("GET", f"/v1/generation/{created['id']}", function="api_netmind")[1]

    running = wait_for(lambda: (r := read()).get("progress") and r, timeout=20, what="the job's progress on a read")
    assert running["status"] == "processing" and running["progress"] in [{"percent": p} for p in (25, 50, 75)], running
    assert running["estimated_finish_at"] >= running["created_at"]
    assert durable.wait(task.execution_arn, timeout=30)["Status"] == "SUCCEEDED"
    done = read()
    assert done["status"] == "completed", done
    (sent,) = [r for r in server.recorded.requests if r["_path"] == "/v1/videos"]
    expected = ("gemini/veo-3.0-generate-preview", "a cat on a boat", "6", "1280x720")
    assert (sent["model"], sent["prompt"], sent["seconds"], sent["size"]) == expected
    (output,) = aws.store.get("acme", created["id"]).outputs
    assert output.key == f"outputs/acme/{created['id']}/output.mp4"
    video = aws.s3.get_object(Bucket=aws.resources.bucket_name, Key=output.key)["Body"].read()
    with av.open(io.BytesIO(video)) as container:
        assert sum(1 for _ in container.decode(video=0)) == 6 * 24
    told = [e for e in aws.store.read_events("acme", created["id"]) if e["type"] == "progress"]
    assert all(set(e) == {"seq", "type", "percent"} for e in told), "its own percent, no step: it has none"
    percents = [e["percent"] for e in told]
    assert percents == sorted(percents) and set(percents) <= {25.0, 50.0, 75.0, 100.0} and percents, percents


def test_a_task_purged_between_invocations_ends_its_execution_cleanly(long_tasks, monkeypatch):
    """Everything a replay depends on is read inside steps: the task's item removed (its retention passed)
    while a step waits to run again, the replay follows its checkpoints and the next live step finds the
    task gone, which ends the execution (dropped), instead of another path (NonDeterministicExecutionError)."""
    aws, durable = long_tasks
    task_id = submit_research(aws, prompt="purged")
    purged = {"arn": None}

    class PurgedMidway(DemoResearchProvider):
        def stream_chat(self, upstream, request):
            if any(m.role == "tool" for m in request.messages) and not purged.get("started"):
                purged["started"] = True
                # The worker records the execution once its Invoke answers, which may be after this turn began.
                purged["arn"] = wait_for(
                    lambda: aws.store.get("acme", hex_of(task_id)).execution_arn, what="the execution on the record"
                )
                aws.ddb.delete_item(
                    TableName=aws.resources.table_name,
                    Key={"pk": {"S": "acme"}, "sk": {"S": "task#" + hex_of(task_id)}},
                )
                purged["done"] = True  # last: the test reads the ARN once the purge is done
                raise ProviderError("provider_error", "503, and meanwhile the task is purged", retryable=True)
            yield from super().stream_chat(upstream, request)

    runner.runtime().worker.provider_for = lambda spec: PurgedMidway(Pace(2, 0))
    aws.run_worker()
    wait_for(lambda: purged.get("done"), what="the purge")
    arn = purged["arn"]
    ended = durable.wait(arn)
    assert ended["Status"] == "SUCCEEDED", ended
    assert json.loads(ended["Result"]) == {"outcome": "dropped"}
    history = durable.client().get_durable_execution_history(DurableExecutionArn=arn)["Events"]
    assert "ExecutionFailed" not in {e["EventType"] for e in history}


def test_a_start_step_run_again_after_the_create_answered_makes_no_second_job(background, monkeypatch):
    """OpenAI's Responses API documents no Idempotency-Key: a start step that runs again must find the job
    its first run created. The first run dies after the create answered and before its checkpoint."""
    aws, durable, server = background
    crashed = {"left": 1}
    real_add = EventLog.add

    def dies_after_the_create(self, event):
        if event.get("type") == "job_started" and crashed["left"]:
            crashed["left"] -= 1
            raise RuntimeError("the invocation dies here")
        return real_add(self, event)

    monkeypatch.setattr(EventLog, "add", dies_after_the_create)
    task_id = submit_chat(aws, "deep-bg")
    done = run(aws, durable, task_id)
    assert crashed["left"] == 0, "the crash happened"
    assert done["status"] == "COMPLETED", done
    created = [r for r in server.recorded.requests if r["_path"].endswith("/responses")]
    assert len(created) == 1, "one background response, however often the start ran"
