"""A batch's results while it runs (acceptance 2 of issue 34), against the local stack: while a 30-item batch
runs, its partial results (GET /v1/batches/{id}/results) grow in the order its items end, a page at a time after
a cursor; their union is the output file the official `openai` SDK reads once it ended; and `aic batch results
--partial --follow` prints the same lines as they come."""

from __future__ import annotations

import json
import subprocess
import time

import openai
import pytest
from asyncinfer_client import Client

from tests.e2e.conftest import start_stack, stop_stack
from tests.e2e.test_cli import AIC

pytestmark = pytest.mark.e2e
ITEMS = 30
POLL = 0.5


@pytest.fixture(scope="module")
def stack():
    # Items of 4 s, run ten at a time: endings come in waves while the batch runs for a dozen seconds or more,
    # longer than the 3 s the server holds fresh endings back.
    running = start_stack(ASYNCINFER_DEMO_CHAT_SECONDS="4")
    yield running
    if running.process.poll() is None:
        stop_stack(running)


def request(i: int) -> dict:
    body = {"model": "demo-chat", "messages": [{"role": "user", "content": f"Question {i}"}], "max_tokens": 20}
    return {"custom_id": f"q{i:02d}", "body": body}


def test_partial_results_grow_in_finishing_order_and_their_union_is_the_output_file(stack):
    env = {"PATH": "/usr/bin:/bin", "ASYNCINFER_BASE_URL": stack.url, "ASYNCINFER_API_KEY": stack.key}
    with Client(stack.url, stack.key) as client:
        batch = client.batches.create([request(i) for i in range(ITEMS)], endpoint="/v1/chat/completions")
        follower = subprocess.Popen(
            [AIC, "batch", "results", batch["id"], "--partial", "--follow", "--timeout", "120"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        seen: list[dict] = []
        pages_while_running, after, deadline = 0, None, time.monotonic() + 120
        while True:
            page = client.batches.partial(batch["id"], after=after, limit=5)
            assert page["first_id"] == after
            seen += page["data"]
            after = page["last_id"]
            pages_while_running += bool(page["data"]) and not page["ended"]
            if page["has_more"]:
                continue
            if page["ended"]:
                break
            assert time.monotonic() < deadline, "the batch did not end in 120 s"
            time.sleep(POLL)
        done = client.batches.get(batch["id"])
    assert done["status"] == "completed", done
    assert pages_while_running >= 2, "the partial results should have grown while the batch ran"
    ended_at = [line["ended_at"] for line in seen]
    assert ended_at == sorted(ended_at), "in finishing order, across pages"
    custom_ids = [line["custom_id"] for line in seen]
    assert len(custom_ids) == len(set(custom_ids)) == ITEMS, "each item once"

    sdk = openai.OpenAI(base_url=f"{stack.url}/v1", api_key=stack.key, max_retries=0)
    output = [json.loads(line) for line in sdk.files.content(done["output_file_id"]).text.splitlines()]
    assert {line["custom_id"] for line in output} == set(custom_ids)
    by_id = {line["custom_id"]: line for line in seen}
    for line in output:
        assert by_id[line["custom_id"]]["response"] == line["response"]["body"]

    printed, errors = follower.communicate(timeout=60)
    assert follower.returncode == 0, errors
    followed = [json.loads(line) for line in printed.splitlines()]
    assert [line["custom_id"] for line in followed] == custom_ids, "aic prints the same lines in the same order"


def test_partial_results_of_an_ended_batch_print_at_once_with_aic(stack):
    env = {"PATH": "/usr/bin:/bin", "ASYNCINFER_BASE_URL": stack.url, "ASYNCINFER_API_KEY": stack.key}
    with Client(stack.url, stack.key) as client:
        batch = client.batches.create([request(i) for i in range(3)])
        client.batches.wait(batch["id"], timeout=60)
        expected = [line["custom_id"] for line in client.batches.iter_partial(batch["id"])]
    done = subprocess.run(
        [AIC, "batch", "results", batch["id"], "--partial"], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert [json.loads(line)["custom_id"] for line in done.stdout.splitlines()] == expected
    assert sorted(expected) == ["q00", "q01", "q02"]
