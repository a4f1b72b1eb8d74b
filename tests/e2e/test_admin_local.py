"""The admin commands find the running local stack by themselves (issue 31, criterion 4): `keys create`,
`budget set|show` with no endpoint, region or table, from a shell that has none of them; and with the priced
demo registry a 402 is three commands away, as docs/guide/budgets.md shows."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import start_stack, stop_stack

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
PRICED = ROOT / "functions" / "asyncinfer" / "models.priced.json"


@pytest.fixture(scope="module")
def priced(tmp_path_factory):
    stack_file = tmp_path_factory.mktemp("stack") / "local.json"
    running = start_stack(ASYNCINFER_MODELS_FILE=str(PRICED), ASYNCINFER_STACK_FILE=str(stack_file))
    running.stack_file = stack_file
    yield running
    if running.process.poll() is None:
        stop_stack(running)


def asyncinfer(stack, *args: str) -> subprocess.CompletedProcess:
    """A fresh shell in the project: no AWS or asyncinfer settings at all (only where this stack's settings
    file is, which `make dev` writes to .asyncinfer/local.json, the default)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "ASYNCINFER_"))}
    env["ASYNCINFER_STACK_FILE"] = str(stack.stack_file)
    cli = str(Path(sys.executable).with_name("asyncinfer"))
    return subprocess.run([cli, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)


def test_keys_and_budgets_work_against_the_running_stack_with_nothing_to_type(priced):
    made = asyncinfer(priced, "keys", "create", "--tenant", "admin-local")
    assert made.returncode == 0, made.stderr
    key = made.stdout.strip()
    with httpx.Client(base_url=priced.url, headers={"Authorization": f"Bearer {key}"}, timeout=10) as client:
        assert client.get("/v1/async").status_code == 200
    shown = asyncinfer(priced, "budget", "set", "--tenant", "admin-local", "--daily", "1.50")
    assert shown.returncode == 0, shown.stderr
    assert "limit $1.50" in asyncinfer(priced, "budget", "show", "--tenant", "admin-local").stdout


def test_a_402_in_three_commands_with_the_priced_registry(priced):
    # 1. ASYNCINFER_MODELS_FILE=functions/asyncinfer/models.priced.json make dev   (this module's stack)
    # 2. asyncinfer budget set --tenant dev --daily 0.01
    assert asyncinfer(priced, "budget", "set", "--tenant", "dev", "--daily", "0.01").returncode == 0
    # 3. a submit that reserves more than a cent: an image is $0.04
    with httpx.Client(base_url=priced.url, headers={"Authorization": f"Bearer {priced.key}"}, timeout=10) as client:
        refused = client.post("/v1/generation", json={"model": "demo-image", "config": {"prompt": "a lighthouse"}})
    assert refused.status_code == 402, refused.text
    assert refused.json()["error"]["code"] == "budget_exceeded"
    assert asyncinfer(priced, "budget", "clear", "--tenant", "dev").returncode == 0


def test_a_command_given_a_table_is_not_redirected_to_the_local_stack(priced):
    done = asyncinfer(priced, "budget", "show", "--tenant", "dev", "--table", "some-deployed-table")
    # Aimed at AWS (no endpoint): botocore wants a region, and says so; the local stack is not used.
    assert done.returncode != 0 and "region" in done.stderr.lower(), done.stderr
