"""Deadlines through the real handlers: a task not started by its start deadline never runs and ends
`start_timeout`; a task running past its end deadline is stopped, its upstream call closed or its upstream
job cancelled, and ends `deadline_exceeded`. The worker, the long-task runner and the sweeper each keep them."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from asyncinfer.config import SweeperSettings
from asyncinfer.domain.ids import parse_any
from asyncinfer.domain.model import TaskStatus, now_ms
from asyncinfer.handlers import shared, worker
from asyncinfer.wiring import sweeper as build_sweeper
from tests.e2e.conftest import wait_for
from tests.support.models_file import serve_models
from tests.support.openai_server import OpenAIServer

pytestmark = pytest.mark.integration


def chat(model: str = "demo-chat", **extra) -> dict:
    return {"model": model, "messages": [{"role": "user", "content": "hello"}], **extra}


def submit(aws, body: dict, headers: dict | None = None) -> str:
    status, task = aws.api("POST", "/v1/async", body=body, headers=headers)
    assert status == 200, task
    return parse_any(task["id"])


def sweep_deadlines(at_ms: int) -> int:
    return build_sweeper(SweeperSettings()).sweep_deadlines(at_ms)


def dues(aws) -> list[str]:
    items = aws.ddb.query(
        TableName=aws.resources.table_name,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": "_due"}},
    )["Items"]
    return [item["sk"]["S"] for item in items]


def assert_never_ran(aws, task_id: str, code: str) -> None:
    task = aws.store.get("acme", task_id)
    assert task.status == TaskStatus.FAILED and task.error.code == code, task
    assert task.started_at is None and task.attempt == 0
    assert aws.store.read_events("acme", task_id) == []


@pytest.mark.parametrize(
    ("extra", "headers"),
    [({"start_timeout": 0.1}, None), ({}, {"X-Fal-Request-Timeout": "0.1"}), ({}, {"Cancel-After": "100ms"})],
)
def test_a_task_whose_start_deadline_passed_in_the_queue_never_runs(aws, extra, headers):
    task_id = submit(aws, chat(**extra), headers)
    start_by = aws.store.get("acme", task_id).start_by
    wait_for(lambda: now_ms() > start_by, timeout=5, what="the start deadline to pass")
    aws.run_worker()
    assert_never_ran(aws, task_id, "start_timeout")
    _, read = aws.api("GET", f"/v1/async/{task_id}")
    assert read["status"] == "FAILED" and read["error"]["code"] == "start_timeout", read
    assert sweep_deadlines(now_ms()) == 0 and dues(aws) == [], "the sweeper finds it ended and forgets it"


def test_the_sweeper_fails_a_task_waiting_past_its_start_deadline_before_any_worker_reaches_it(aws):
    late = submit(aws, chat(start_timeout=60))
    on_time = submit(aws, chat(start_timeout=600))
    created = aws.store.get("acme", late).created_at
    assert len(dues(aws)) == 2, "each deadline is stored with its task"
    assert sweep_deadlines(created + 59_000) == 0
    assert sweep_deadlines(created + 61_000) == 1
    assert_never_ran(aws, late, "start_timeout")
    aws.run_worker()  # its message was still queued: it is dropped, the task stays as it ended
    assert_never_ran(aws, late, "start_timeout")
    assert aws.store.get("acme", on_time).status == TaskStatus.COMPLETED
    assert sweep_deadlines(created + 601_000) == 0, "a task that started in time is not failed later"
    assert dues(aws) == []


@pytest.fixture
def upstream(aws, monkeypatch, tmp_path):
    """A registry model served by a real OpenAI-protocol server whose `trickle` answer takes half a minute."""
    with OpenAIServer() as server:
        registry = {
            "version": 1,
            "providers": {"compat": {"type": "openai", "base_url": server.base_url, "api_key": {"env": "COMPAT_KEY"}}},
            "models": {"slow-model": {"provider": "compat", "upstream": "trickle", "kind": "chat"}},
        }
        serve_models(registry, tmp_path, monkeypatch)
        monkeypatch.setenv("COMPAT_KEY", "sk-test")
        shared.service.cache_clear()
        worker.runtime.cache_clear()
        yield aws, server


@pytest.mark.parametrize(
    ("extra", "headers"), [({"execution_timeout": 0.5}, None), ({}, {"Cancel-After": "1s"})], ids=["body", "header"]
)
def test_a_running_task_is_stopped_at_its_deadline_its_upstream_call_closed(upstream, extra, headers):
    aws, server = upstream
    task_id = submit(aws, chat("slow-model", **extra), headers)
    aws.run_worker()
    task = aws.store.get("acme", task_id)
    assert task.status == TaskStatus.FAILED and task.error.code == "deadline_exceeded", task
    assert task.finish_by is not None and 0 <= task.failed_at - task.finish_by < 2_000
    assert task.failed_at - task.started_at < 5_000, "stopped at its deadline, not at the end of the answer"
    assert any(e["type"] == "delta" for e in aws.store.read_events("acme", task_id)), "it ran until then"
    wait_for(lambda: server.recorded.hung_up == ["trickle"], timeout=5, what="the upstream stream to be closed")


def test_the_sweeper_fails_a_running_task_whose_worker_died_past_its_deadline(aws):
    task_id = submit(aws, chat(execution_timeout=30))
    claimed = aws.store.transition(
        "acme",
        task_id,
        expect={TaskStatus.CREATED},
        changes={"status": TaskStatus.IN_PROGRESS, "attempt": 1, "started_at": now_ms(), "lease_expires_at": 1},
    )
    assert sweep_deadlines(now_ms()) == 0, "no end deadline was fixed: the claim above is not a worker's"
    # What a worker's claim does: the end deadline, from the start, watched by the sweeper too.
    finish_by = claimed.started_at + 30_000
    aws.store.transition("acme", task_id, expect={TaskStatus.IN_PROGRESS}, changes={"finish_by": finish_by})
    aws.store.add_due("acme", task_id, finish_by)
    assert sweep_deadlines(finish_by - 1) == 0
    assert sweep_deadlines(finish_by) == 1
    task = aws.store.get("acme", task_id)
    assert task.status == TaskStatus.FAILED and task.error.code == "deadline_exceeded"
    assert dues(aws) == []


def test_a_worker_claim_fixes_the_end_deadline_from_the_start_and_the_sweeper_watches_it(upstream):
    aws, _ = upstream
    task_id = submit(aws, chat("slow-model", execution_timeout=0.3))
    aws.run_worker()
    task = aws.store.get("acme", task_id)
    assert task.finish_by == task.started_at + 300
    assert dues(aws) == [f"{task.finish_by:013d}#acme#{task_id}"]


@pytest.mark.parametrize(
    ("body", "headers", "message"),
    [
        (chat(start_timeout="10"), None, "start_timeout: Input should be a valid number"),
        (chat(execution_timeout=0), None, "execution_timeout must be between"),
        (chat(start_timeout=8 * 86400), None, "start_timeout must be between"),
        (chat(), {"Cancel-After": "soon"}, "Cancel-After must be seconds or a duration"),
        (chat(), {"X-Fal-Request-Timeout": "0"}, "X-Fal-Request-Timeout must be between"),
    ],
)
def test_a_bad_deadline_is_a_400_naming_it_and_stores_nothing(aws, body, headers, message):
    status, answer = aws.api("POST", "/v1/async", body=body, headers=headers)
    assert status == 400 and message in answer["error"]["message"], answer
    assert answer["error"]["code"] == "invalid_request"
    assert aws.queue_depth() == 0 and dues(aws) == []


def test_every_surface_takes_deadlines_in_its_body(aws):
    made = [
        aws.api("POST", "/v1/messages/async", body=chat(start_timeout=30), function="api_privategpt"),
        aws.api("POST", "/async/chat/completions", body={"request": chat(start_timeout=30)}, function="api_perplexity"),
        aws.api(
            "POST",
            "/v1/generation",
            body={"model": "demo-image", "config": {"prompt": "a dot"}, "start_timeout": 30},
            function="api_netmind",
        ),
    ]
    assert all(status == 200 for status, _ in made), made
    assert len(dues(aws)) == 3


def test_reads_show_the_deadlines_in_each_surfaces_spelling(aws):
    task_id = submit(aws, chat(start_timeout=60, execution_timeout=30))
    task = aws.store.get("acme", task_id)
    _, waiting = aws.api("GET", f"/v1/async/{task_id}")
    assert waiting["start_deadline_at"].startswith(iso_of(task.start_by)) and waiting["execution_timeout"] == 30
    assert "deadline_at" not in waiting, "the end deadline is fixed at the start"
    _, perplexity = aws.api("GET", f"/async/chat/completions/{task_id}", function="api_perplexity")
    assert perplexity["start_deadline_at"] == task.start_by // 1000
    aws.run_worker()
    started = aws.store.get("acme", task_id)
    _, done = aws.api("GET", f"/v1/async/{task_id}")
    assert done["deadline_at"].startswith(iso_of(started.started_at + 30_000))
    assert "start_deadline_at" not in done and "execution_timeout" not in done


def iso_of(ms: int) -> str:
    """To the second: each surface keeps its own precision below it."""
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S")
