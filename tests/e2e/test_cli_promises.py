"""aic where a person stops it, points it at nothing, or asks for what is not there: one line that says
what happened and what to do, and an exit status a script can test (issue 31, points 2 and 4)."""

from __future__ import annotations

import io
import signal
import subprocess
from pathlib import Path

import pytest
from asyncinfer_client import Client
from PIL import Image

from tests.e2e.conftest import wait_for
from tests.e2e.test_cli import AIC, aic, env  # noqa: F401  (the CLI's environment fixture)

pytestmark = pytest.mark.e2e


def lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


def test_ctrl_c_on_watch_exits_130_with_one_line_saying_how_to_resume(stack, env):  # noqa: F811
    task_id = aic(env, "submit", "demo-deep-research", "Watch then stop").stdout.strip()
    watching = subprocess.Popen(
        [AIC, "watch", task_id],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # As a terminal's foreground process has it: a shell without job control (CI's, run in the background)
        # starts its children with SIGINT ignored, and Python then installs no KeyboardInterrupt for it.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    state = Path(env["XDG_STATE_HOME"]) / "asyncinfer" / "watch" / task_id
    wait_for(lambda: state.exists(), timeout=60, what="the first event")
    watching.send_signal(signal.SIGINT)
    try:
        _, stderr = watching.communicate(timeout=15)
    finally:
        watching.kill()  # never left streaming into the next tests
    assert watching.returncode == 130, stderr
    assert len(lines(stderr)) <= 3, stderr
    assert f"aic watch {task_id}" in stderr and "Traceback" not in stderr
    with Client(stack.url, stack.key) as client:
        assert client.attach(task_id).cancel()["status"] == "CANCELLED"


def test_a_stack_that_is_down_is_one_line_with_the_cause(env):  # noqa: F811
    down = {**env, "ASYNCINFER_BASE_URL": "http://127.0.0.1:9"}  # the discard port: nothing listens
    done = aic(down, "ls")
    assert done.returncode == 1
    assert len(lines(done.stderr)) <= 3, done.stderr
    assert "cannot reach http://127.0.0.1:9" in done.stderr and "ConnectError" in done.stderr
    assert "Traceback" not in done.stderr


def test_download_of_a_chat_task_says_it_has_no_files_and_exits_non_zero(stack, env, tmp_path):  # noqa: F811
    task_id = aic(env, "submit", "demo-chat", "No files here").stdout.strip()
    with Client(stack.url, stack.key) as client:
        client.attach(task_id).result(timeout=60)
    done = aic(env, "download", task_id, str(tmp_path / "files"))
    assert done.returncode == 1, done.stderr
    assert len(lines(done.stderr)) <= 3 and "has no files" in done.stderr
    assert not (tmp_path / "files").exists()


def test_generate_waits_and_downloads_its_files(stack, env, tmp_path):  # noqa: F811
    target = tmp_path / "images"
    done = aic(env, "generate", "demo-image", "a lighthouse", "--set", "num_images=2", "--download", str(target))
    assert done.returncode == 0, done.stderr
    saved = sorted(target.iterdir())
    assert len(saved) == 2 and all(str(path) in done.stdout for path in saved)
    for path in saved:
        with Image.open(io.BytesIO(path.read_bytes())) as image:
            assert image.format == "PNG"
    plain = aic(env, "generate", "demo-image", "a harbour")
    assert plain.returncode == 0 and len(plain.stdout.split()) == 1, plain.stdout
    waited = aic(env, "generate", "demo-audio", "rain", "--set", "duration=1", "--wait")
    assert waited.returncode == 0 and waited.stdout.split()[1] == "completed", waited.stdout


def test_service_tier_puts_the_task_in_its_class(stack, env):  # noqa: F811
    task_id = aic(env, "submit", "demo-chat", "Flex me", "--service-tier", "flex").stdout.strip()
    with Client(stack.url, stack.key) as client:
        assert client.attach(task_id).get()["service_tier"] == "flex"
    refused = aic(env, "run", "demo-chat", "hello", "--service-tier", "bogus")
    assert refused.returncode == 2 and "invalid choice" in refused.stderr


def test_run_prints_its_status_on_a_line_of_its_own_when_piped(stack, env):  # noqa: F811
    done = subprocess.run(
        f"{AIC} run demo-chat 'Piped?' 2>&1 | cat", shell=True, env=env, capture_output=True, text=True, timeout=120
    )
    answer, status = lines(done.stdout)[-2:]
    assert 'to: "Piped?".' in answer and answer.endswith("has one."), done.stdout
    assert status.startswith("COMPLETED task_"), done.stdout


def test_ls_shows_whole_ids_and_the_model_at_80_columns(stack, env):  # noqa: F811
    task_id = aic(env, "submit", "demo-chat", "List me").stdout.strip()
    done = aic({**env, "COLUMNS": "80"}, "ls", "--limit", "3")
    assert done.returncode == 0, done.stderr
    (row,) = [line for line in done.stdout.splitlines() if task_id in line]
    assert "demo-chat" in row, done.stdout


def test_an_api_error_is_one_line_with_its_code_and_a_suggestion(stack, env):  # noqa: F811
    done = aic(env, "run", "demo-chatt", "hello")
    assert done.returncode == 1, done.stderr
    assert len(lines(done.stderr)) <= 3, done.stderr
    assert "400" in done.stderr and "demo-chat" in done.stderr and "Traceback" not in done.stderr
    assert done.stdout == ""
