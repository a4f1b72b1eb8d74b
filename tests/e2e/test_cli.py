"""`aic`, the client's command line, driven as a person would, against the local stack."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from asyncinfer_client import Client
from PIL import Image

from tests.e2e.conftest import wait_for

pytestmark = pytest.mark.e2e
AIC = str(Path(sys.executable).with_name("aic"))


@pytest.fixture
def env(stack, tmp_path):
    return {
        **os.environ,
        "ASYNCINFER_BASE_URL": stack.url,
        "ASYNCINFER_API_KEY": stack.key,
        "XDG_STATE_HOME": str(tmp_path / "state"),
        "COLUMNS": "200",
    }


def aic(env, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [AIC, *args], env=env, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL
    )


def test_run_streams_the_answer_and_ends_with_the_tasks_status(stack, env):
    done = aic(env, "run", "demo-chat", "What does aic do?")
    assert done.returncode == 0, done.stderr
    assert 'Demo answer from demo-chat to: "What does aic do?".' in done.stdout
    assert "COMPLETED task_" in done.stderr
    as_json = aic(env, "--json", "run", "demo-chat", "And as JSON?")
    assert json.loads(as_json.stdout)["status"] == "COMPLETED"


def test_watch_resumes_where_it_left_off(stack, env):
    task_id = aic(env, "submit", "demo-chat", "Watch me twice").stdout.strip()
    first = subprocess.Popen(
        [AIC, "watch", task_id], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    state = Path(env["XDG_STATE_HOME"]) / "asyncinfer" / "watch" / task_id
    wait_for(lambda: state.exists() and int(state.read_text()) >= 2, timeout=30, what="a few events")
    first.kill()  # the person closes the terminal mid-answer
    first.communicate(timeout=10)
    seen = int(state.read_text())
    second = aic(env, "watch", task_id)
    assert second.returncode == 0, second.stderr
    assert f"resuming after event {seen}" in second.stderr
    with Client(stack.url, stack.key) as client:
        answer = client.attach(task_id).result(timeout=60)["choices"][0]["message"]["content"]
        skipped = "".join(e.text for e in client.attach(task_id).events() if e.seq and e.seq <= seen)
    assert skipped + second.stdout.rstrip("\n") == answer, "nothing twice, nothing missing"


def test_batch_submit_waits_with_a_progress_bar_and_results_follow(stack, env, tmp_path):
    lines = [
        {"custom_id": f"q{i}", "body": {"model": "demo-chat", "messages": [{"role": "user", "content": f"Q{i}"}]}}
        for i in range(3)
    ]
    file = tmp_path / "batch.jsonl"
    file.write_text("".join(json.dumps(line) + "\n" for line in lines))
    done = aic(env, "batch", "submit", str(file), "--wait")
    assert done.returncode == 0, done.stderr
    assert "3/3" in done.stderr, done.stderr  # the bar's final state
    assert "completed: 3 completed, 0 failed, 0 cancelled, 0 expired of 3" in done.stdout
    batch_id = done.stdout.split()[0]
    results = [json.loads(line) for line in aic(env, "batch", "results", batch_id).stdout.splitlines()]
    assert [r["custom_id"] for r in results] == ["q0", "q1", "q2"]


def test_download_saves_a_generations_files_which_decode(stack, env, tmp_path):
    with Client(stack.url, stack.key) as client:
        made = client.generate("demo-image", {"prompt": "a lighthouse", "image_size": "square", "num_images": 2})
    done = aic(env, "download", made.id, str(tmp_path / "files"))
    assert done.returncode == 0, done.stderr
    saved = sorted((tmp_path / "files").iterdir())
    assert len(saved) == 2
    for path in saved:
        with Image.open(io.BytesIO(path.read_bytes())) as image:
            assert image.format == "PNG" and image.size == (512, 512)
        assert str(path) in done.stdout


def test_ls_cancel_and_rm(stack, env):
    task_id = aic(env, "submit", "demo-chat", "Cancel me").stdout.strip()
    assert "CANCELLED" in aic(env, "cancel", task_id).stdout
    listed = json.loads(aic(env, "--json", "ls", "--limit", "5").stdout)
    assert task_id in [t["id"] for t in listed["tasks"]]
    assert aic(env, "rm", task_id).returncode == 0
    gone = aic(env, "cancel", task_id)
    assert gone.returncode == 1 and "404 not_found" in gone.stderr
