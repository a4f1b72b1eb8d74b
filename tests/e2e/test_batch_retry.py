"""A batch's failed items run again (acceptance 3 of issue 34), against the local stack: 5 of 10 items on a model
that fails a prompt the first time (`demo-fail-once`) fail; one retry call runs only those 5 again, as new tasks in
the same batch, which ends completed with 10 completed and 0 failed, an output file of 10 lines and no error file,
read with the official `openai` SDK; `aic batch retry` says when there is nothing left to retry."""

from __future__ import annotations

import json
import subprocess
import uuid

import openai
import pytest
from asyncinfer_client import Client

from tests.e2e.test_cli import AIC

pytestmark = pytest.mark.e2e
TIMEOUT = 120


def lines(n: int, model: str, prefix: str) -> list[dict]:
    run = uuid.uuid4().hex[:8]  # demo-fail-once remembers the prompts it failed, for the stack's life
    return [
        {
            "custom_id": f"{prefix}-{i}",
            "method": "POST",
            "url": "/v1/chat/completions",
            "body": {"model": model, "messages": [{"role": "user", "content": f"{prefix} {i} {run}"}]},
        }
        for i in range(n)
    ]


def file_lines(sdk: openai.OpenAI, file_id: str) -> list[dict]:
    return [json.loads(raw) for raw in sdk.files.content(file_id).text.splitlines()]


def test_a_retry_runs_only_the_failed_items_again_and_the_batch_ends_coherent(stack, tmp_path):
    sdk = openai.OpenAI(base_url=f"{stack.url}/v1", api_key=stack.key, max_retries=0)
    requests = lines(5, "demo-chat", "good") + lines(5, "demo-fail-once", "flaky")
    path = tmp_path / "requests.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in requests))
    with path.open("rb") as handle:
        uploaded = sdk.files.create(file=handle, purpose="batch")
    batch = sdk.batches.create(input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="24h")

    with Client(stack.url, stack.key) as client:
        first = client.batches.wait(batch.id, timeout=TIMEOUT)
        assert first["status"] == "completed", first
        assert first["request_counts"]["completed"] == 5 and first["request_counts"]["failed"] == 5, first
        first_output = file_lines(sdk, first["output_file_id"])
        first_errors = file_lines(sdk, first["error_file_id"])
        assert {line["custom_id"] for line in first_errors} == {f"flaky-{i}" for i in range(5)}

        retried = client.batches.retry(batch.id)
        assert retried["id"] == batch.id and retried["status"] == "in_progress", retried
        assert retried["request_counts"]["pending"] == 5 and retried["request_counts"]["failed"] == 0, retried
        assert retried["output_file_id"] is None and retried["error_file_id"] is None
        client.batches.wait(batch.id, timeout=TIMEOUT)
        endings = list(client.batches.iter_partial(batch.id))

    done = sdk.batches.retrieve(batch.id)
    assert done.id == batch.id and done.status == "completed", done
    counts = done.request_counts.model_dump()
    assert (counts["total"], counts["completed"], counts["failed"]) == (10, 10, 0), counts
    assert done.error_file_id is None
    output = file_lines(sdk, done.output_file_id)
    assert len(output) == 10 and {line["custom_id"] for line in output} == {line["custom_id"] for line in requests}
    assert all(line["response"]["status_code"] == 200 and line["error"] is None for line in output)
    # Only the 5 failed items ran again, each as a new task: the good items' tasks are the ones of the first run.
    task_of = {line["custom_id"]: line["response"]["request_id"] for line in output}
    assert all(task_of[line["custom_id"]] == line["response"]["request_id"] for line in first_output)
    retried_tasks = {task_of[f"flaky-{i}"] for i in range(5)}
    assert len(retried_tasks) == 5 and not retried_tasks & {task_of[f"good-{i}"] for i in range(5)}
    assert [line.get("round", 0) for line in endings].count(1) == 5 and len(endings) == 15, endings
    assert {line["custom_id"] for line in endings if line.get("round") == 1} == {f"flaky-{i}" for i in range(5)}

    env = {"PATH": "/usr/bin:/bin", "ASYNCINFER_BASE_URL": stack.url, "ASYNCINFER_API_KEY": stack.key}
    again = subprocess.run([AIC, "batch", "retry", batch.id], env=env, capture_output=True, text=True, timeout=60)
    assert again.returncode != 0 and "nothing_to_retry" in again.stdout + again.stderr, again
