"""Budgets on the local stack with the priced demo registry the project ships, driven as an operator and
hostile clients would: concurrent and sequential submits and batches never take spent + reserved past the
limit; cancelled, timed-out and stopped work is charged what it produced; GET /v1/usage is exactly the sum of
the tasks' own costs; another tenant is unaffected."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path

import pytest

from asyncinfer.store.dynamodb import DynamoTaskStore
from asyncinfer.surfaces.async_api import internal_id
from tests.e2e.conftest import TABLE, start_stack, stop_stack, wait_for

pytestmark = pytest.mark.e2e

PRICED = Path(__file__).resolve().parents[2] / "functions" / "asyncinfer" / "models.priced.json"
ENDED = ("COMPLETED", "FAILED", "CANCELLED")
D = Decimal


@pytest.fixture(scope="module")
def stack():
    running = start_stack(
        ASYNCINFER_MODELS_FILE=str(PRICED),
        ASYNCINFER_DEMO_CHAT_SECONDS="3",
        ASYNCINFER_DEMO_MEDIA_SECONDS="0.4",
        ASYNCINFER_DEMO_RESEARCH_STEP_SECONDS="0.5",
    )
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


def image(n: int = 1) -> dict:
    return {"model": "demo-image", "config": {"prompt": "a lighthouse", "num_images": n}}


def chat(text: str, **more) -> dict:
    return {"model": "demo-chat", "messages": [{"role": "user", "content": text}], **more}


def ended(client, path: str) -> dict:
    def read():
        body = client.get(path).json()
        return body if body["status"].upper() in ENDED else None

    return wait_for(read, timeout=60, interval=0.1, what=f"{path} to end")


class Watch:
    """Reads GET /v1/usage over and over while work runs: the largest spent + reserved it saw."""

    def __init__(self, client) -> None:
        self.client, self.most, self._stop = client, D(0), threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            daily = self.client.get("/v1/usage").json()["budgets"]["daily"]
            self.most = max(self.most, D(str(daily["spent"])) + D(str(daily["reserved"])))

    def __enter__(self) -> Watch:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


def concurrently(stack, key: str, n: int, path: str, body) -> list:
    """`n` POSTs at once, each on a connection of its own."""

    def post(i: int):
        with stack.client(key) as client:
            return client.post(path, json=body(i) if callable(body) else body)

    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(post, range(n)))


def daily(client) -> dict:
    return client.get("/v1/usage").json()["budgets"]["daily"]


def test_concurrent_and_sequential_submits_and_batches_never_take_spent_plus_reserved_past_the_limit(stack):
    """The hostile tenant of issue 29: $2.00 a day at $0.04 an image is 50 images; here $0.20 is 5."""
    key = stack.new_key("spender")
    spender = stack.client(key)
    admin(stack, "set", "--tenant", "spender", "--daily", "0.20")
    with Watch(stack.client(key)) as watch:
        answers = concurrently(stack, key, 12, "/v1/generation", image())
        accepted = [a.json()["id"] for a in answers if a.status_code == 200]
        refused = [a.json()["error"] for a in answers if a.status_code != 200]
        assert len(accepted) == 5 and len(refused) == 7, [a.status_code for a in answers]
        assert {(e["code"], e.get("period"), e.get("limit")) for e in refused} == {("budget_exceeded", "daily", 0.2)}, (
            refused
        )
        assert all(e["spent"] + e["reserved"] > 0.16 for e in refused)  # no room left for one more image
        tasks = [ended(spender, f"/v1/generation/{task_id}") for task_id in accepted]
    assert watch.most <= D("0.20")
    for _ in range(4):  # and one after another, once it is all spent
        answer = spender.post("/v1/generation", json=image())
        assert answer.status_code == 402, answer.text
        assert (answer.json()["error"]["spent"], answer.json()["error"]["reserved"]) == (0.2, 0)
    assert [t["status"] for t in tasks] == ["completed"] * 5
    assert daily(spender) | {"renews_at": None} == {
        "period": daily(spender)["period"],
        "limit": 0.2,
        "spent": 0.2,
        "reserved": 0,
        "remaining": 0,
        "renews_at": None,
    }

    # Five concurrent batches of four images ($0.16 each) under the same limit: one fits.
    key = stack.new_key("batcher")
    batcher = stack.client(key)
    admin(stack, "set", "--tenant", "batcher", "--daily", "0.20")
    items = [{"custom_id": f"i{i}", "body": image()} for i in range(4)]
    with Watch(stack.client(key)) as watch:
        answers = concurrently(stack, key, 5, "/v1/batches", {"endpoint": "/v1/generation", "requests": items})
        assert sorted(a.status_code for a in answers) == [200, 402, 402, 402, 402], [a.text for a in answers]
        batch = next(a.json() for a in answers if a.status_code == 200)
        wait_for(lambda: batcher.get(f"/v1/batches/{batch['id']}").json()["status"] == "completed", timeout=60)
    assert watch.most <= D("0.20")
    assert (daily(batcher)["spent"], daily(batcher)["reserved"]) == (0.16, 0)


def test_token_priced_work_overshoots_by_at_most_its_stated_bound(stack):
    """A chat reserves one turn's bound: every prompt token a byte (+8 a message), max_tokens completion
    tokens. The demo model counts words, fewer than that bound, so concurrent chats never pass the limit."""
    key = stack.new_key("talker")
    talker = stack.client(key)
    limit = D("0.01")
    admin(stack, "set", "--tenant", "talker", "--daily", str(limit))
    bound = (D(len(b"question 00") + 8) * 3 + 120 * 15) / 1_000_000  # $0.001857 each
    with Watch(stack.client(key)) as watch:
        answers = concurrently(stack, key, 12, "/v1/async", lambda i: chat(f"question {i:02}", max_tokens=120))
        accepted = [a.json()["id"] for a in answers if a.status_code == 200]
        assert len(accepted) == int(limit / bound) == 5, [a.text for a in answers]
        tasks = [ended(talker, f"/v1/async/{task_id}") for task_id in accepted]
    assert watch.most <= limit
    costs = [D(str(t["usage"]["cost"]["total_cost"])) for t in tasks]
    assert all(cost <= bound for cost in costs)  # the stated bound held: no overshoot
    assert D(str(daily(talker)["spent"])) == sum(costs) <= limit


def test_stopped_work_is_charged_what_it_produced_and_usage_is_the_sum_of_the_tasks_costs(stack):
    client = stack.client(stack.new_key("stopper"))

    store = DynamoTaskStore(stack.aws("dynamodb"), TABLE)

    def events(task_id: str) -> list[dict]:
        return store.read_events("stopper", internal_id(task_id))

    def produced_text(task_id: str) -> str:
        return "".join(e.get("text", "") for e in events(task_id) if e.get("type") == "delta")

    # A chat cancelled mid-stream: its prompt and the words it streamed.
    cancelled = client.post("/v1/async", json=chat("tell me about tides")).json()["id"]
    wait_for(lambda: produced_text(cancelled), timeout=30, what="the first words")
    client.post(f"/v1/async/{cancelled}/cancel")
    cancelled_read = ended(client, f"/v1/async/{cancelled}")
    words = len(produced_text(cancelled).split())
    assert cancelled_read["status"] == "CANCELLED" and 0 < words < 60
    assert cancelled_read["usage"]["completion_tokens"] == words
    assert cancelled_read["usage"]["prompt_tokens"] == 4
    assert cancelled_read["usage"]["cost"]["total_cost"] == round((4 * 3 + words * 15) / 1e6, 8)

    # A chat past its execution deadline: stopped, and charged the same way.
    late = client.post("/v1/async", json=chat("tell me about waves", execution_timeout=1.2)).json()["id"]
    late_read = ended(client, f"/v1/async/{late}")
    assert late_read["status"] == "FAILED" and late_read["error"]["code"] == "deadline_exceeded"
    assert late_read["usage"]["completion_tokens"] == len(produced_text(late).split()) > 0

    # Images: four asked for (the most), stopped (NetMind's DELETE cancels) after the first was made: what was
    # made. Four, not three: the first image's event is seen only at a flush, and a loaded machine may make two
    # more by then.
    made = client.post("/v1/generation", json=image(4)).json()["id"]
    wait_for(lambda: any(e["type"] == "output" for e in events(made)), timeout=30, what="the first image")
    assert client.delete(f"/v1/generation/{made}").status_code == 200
    stopped = store.get("stopper", internal_id(made))
    assert stopped.status == "CANCELLED"
    made_usage = stopped.usage
    assert 1 <= made_usage.images < 4  # (the delete purged its event log with the files)
    assert made_usage.cost.total_cost == round(0.04 * made_usage.images, 8)

    # A long task cancelled after some of its turns: the turns it took.
    research = client.post("/v1/async", json={**chat("Why is the sea salty?"), "model": "demo-deep-research"}).json()[
        "id"
    ]
    wait_for(lambda: (client.get(f"/v1/async/{research}").json().get("progress") or {}).get("step", 0) >= 2, timeout=60)
    client.post(f"/v1/async/{research}/cancel")
    research_read = ended(client, f"/v1/async/{research}")
    assert research_read["status"] == "CANCELLED"
    assert research_read["usage"]["cost"]["total_cost"] > 0

    # GET /v1/usage: exactly the sum of every task's own cost.
    costs = [r["usage"]["cost"]["total_cost"] for r in (cancelled_read, late_read, research_read)]
    total = sum(D(str(c)) for c in [*costs, made_usage.cost.total_cost])
    usage = client.get("/v1/usage").json()
    assert (D(str(usage["total"]["cost"])), usage["total"]["tasks"]) == (total, 4)
    assert usage["budgets"]["daily"]["reserved"] == 0
