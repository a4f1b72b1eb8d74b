"""Budgets on the local stack, driven as an operator and two clients would: the limit set with the CLI, a
tenant refused with 402 and its figures once spent, another tenant unaffected, GET /v1/usage equal to the
sum of the tenant's tasks' own costs, tasks already accepted running to their end."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from asyncinfer.domain.budgets import dollars
from tests.e2e.conftest import TABLE, start_stack, stop_stack, wait_for

pytestmark = pytest.mark.e2e

# The demo models are free: this stack's registry prices them (the README's Budgets section shows how).
REGISTRY = {
    "version": 1,
    "default_chat_model": "metered-chat",
    "models": {
        "metered-chat": {
            "provider": "local",
            "upstream": "demo-chat",
            "kind": "chat",
            "prices": {"input_per_million": 3.0, "output_per_million": 15.0},
        },
        "priced-image": {
            "provider": "local",
            "upstream": "demo-image",
            "kind": "image",
            "output_formats": ["png"],
            "prices": {"per_image": 0.04},
        },
    },
}


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    models = tmp_path_factory.mktemp("budgets") / "models.json"
    models.write_text(json.dumps(REGISTRY))
    running = start_stack(ASYNCINFER_MODELS_FILE=str(models), ASYNCINFER_DEMO_CHAT_SECONDS="0.2")
    yield running
    if running.process.poll() is None:
        stop_stack(running)


def admin(stack, *args: str) -> list[str]:
    """`asyncinfer budget ...`, the real CLI against the stack's emulator, as the README shows."""
    env = {**os.environ, "AWS_ENDPOINT_URL": stack.emulator}
    for name in ("AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION", "AWS_REGION"):
        env.pop(name, None)  # none needed against the local stack
    cli = str(Path(sys.executable).with_name("asyncinfer"))
    done = subprocess.run([cli, "budget", *args, "--table", TABLE], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def chat(text: str) -> dict:
    return {"model": "metered-chat", "messages": [{"role": "user", "content": text}]}


def run(client, text: str) -> tuple[int, dict]:
    """Submit a chat task; once accepted, wait for it to end and return its read."""
    submitted = client.post(
        "/v1/async", json={"model": "metered-chat", "messages": [{"role": "user", "content": text}]}
    )
    if submitted.status_code != 200:
        return submitted.status_code, submitted.json()
    return 200, run_read(client, submitted.json()["id"])


def run_read(client, task_id: str) -> dict:
    """A task's read once it has ended."""

    def ended():
        task = client.get(f"/v1/async/{task_id}").json()
        return task if task["status"] in ("COMPLETED", "FAILED", "CANCELLED") else None

    return wait_for(ended, timeout=60, interval=0.1, what=f"task {task_id} to end")


def cost(task: dict) -> Decimal:
    assert task["status"] == "COMPLETED", task
    return Decimal(str(task["usage"]["cost"]["total_cost"]))


def test_a_tenant_at_its_limit_gets_402_another_is_unaffected_and_usage_is_the_sum_of_its_costs(stack):
    team_a, team_b = stack.client(stack.new_key("team-a")), stack.client(stack.new_key("team-b"))
    set_lines = admin(stack, "set", "--tenant", "team-a", "--daily", "0.003")
    assert set_lines[0].startswith("daily\t") and set_lines[0].endswith("limit $0.003\tremaining $0.003")

    costs: list[Decimal] = []
    for i in range(20):
        status, answer = run(team_a, f"question {i}")
        if status != 200:
            break
        costs.append(cost(answer))
    assert status == 402 and len(costs) >= 2, answer
    spent = sum(costs)
    usage = team_a.get("/v1/usage").json()
    today = usage["budgets"]["daily"]["period"]
    assert answer["error"] == {
        "code": "budget_exceeded",
        "message": f"This tenant's daily budget of $0.003 is spent: {dollars(spent)} so far today ({today}, UTC). "
        f"GET /v1/usage shows the spend; the period renews at {usage['budgets']['daily']['renews_at']}",
    }
    generation = team_a.post("/v1/generation", json={"model": "priced-image", "config": {"prompt": "a fox"}})
    assert generation.status_code == 402 and generation.json()["error"]["code"] == "budget_exceeded"

    # Another tenant is unaffected.
    status, theirs = run(team_b, "question 0")
    assert status == 200 and theirs["status"] == "COMPLETED"
    assert team_b.get("/v1/usage").json()["total"]["tasks"] == 1

    # GET /v1/usage matches the sum of the tenant's tasks' costs exactly, and so does the CLI.
    assert Decimal(str(usage["total"]["cost"])) == spent
    assert (usage["total"]["tasks"], usage["budgets"]["daily"]["spent"]) == (len(costs), float(spent))
    assert [(row["date"], row["model"]) for row in usage["data"]] == [(today, "metered-chat")]
    shown = admin(stack, "show", "--tenant", "team-a")
    assert shown[0] == f"daily\t{today}\tspent {dollars(spent)}\tlimit $0.003\tremaining $0.00"

    # Under a limit again, tasks accepted together all run to their end, though the first to end crosses it.
    admin(stack, "set", "--tenant", "team-a", "--daily", str(spent + Decimal("0.00000001")))
    accepted = [team_a.post("/v1/async", json=chat(f"more {i}")) for i in range(3)]
    assert [r.status_code for r in accepted] == [200, 200, 200]
    ended = [run_read(team_a, r.json()["id"]) for r in accepted]
    spent += sum(cost(task) for task in ended)
    usage = team_a.get("/v1/usage").json()
    assert Decimal(str(usage["total"]["cost"])) == spent and usage["total"]["tasks"] == len(costs) + 3
    status, answer = run(team_a, "one more")
    assert status == 402 and f"{dollars(spent)} so far today" in answer["error"]["message"]
