"""Sync-then-async on the real local stack (`Prefer: wait=N`, RFC 7240): a submit whose task ends within the wait
answers with the finished task, one whose task does not answers when the wait is over with the surface's usual
submit answer, and either says `Preference-Applied: wait=N`; without the header nothing waits. A tenant holding all
its waits (each keeps a function instance) gets the next answer at once, and another tenant's waits are not held up."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.e2e.conftest import TABLE, start_stack, stop_stack, wait_for

pytestmark = pytest.mark.e2e

PREFER = {"Prefer": "wait=5"}
WAITS_PER_TENANT = 2


@pytest.fixture(scope="module")
def stack():
    running = start_stack(ASYNCINFER_DEMO_CHAT_SECONDS="1", ASYNCINFER_MAX_WAITING_SUBMITS=str(WAITS_PER_TENANT))
    yield running
    stop_stack(running)


def chat(text: str, model: str = "demo-chat", **extra) -> dict:
    return {"model": model, "messages": [{"role": "user", "content": text}], **extra}


# A 1 s task on each surface's submit, and what its finished read says there.
QUICK = {
    "async": ("/v1/async", chat("quick"), lambda a: a["status"] == "COMPLETED" and a["choices"][0]["message"]),
    "perplexity": (
        "/async/chat/completions",
        {"request": chat("quick", model="sonar")},
        lambda a: a["status"] == "COMPLETED" and a["response"]["choices"][0]["message"],
    ),
    "privategpt": ("/v1/messages/async", chat("quick"), lambda a: a["status"] == "completed" and a["completed_at"]),
    "responses": (
        "/v1/responses",
        {"model": "demo-chat", "input": "quick", "background": True},
        lambda a: a["status"] == "completed" and a["output"][-1]["content"][0]["text"],
    ),
    "netmind": (
        "/v1/generation",
        {"model": "demo-image", "config": {"prompt": "a cup", "output_format": "png"}},
        lambda a: a["status"] == "completed" and a["result"]["data"][0]["url"],
    ),
}


@pytest.mark.parametrize("surface", sorted(QUICK))
def test_a_task_that_ends_within_the_wait_is_answered_finished(stack, surface):
    path, body, finished = QUICK[surface]
    with stack.client() as client:
        answer = client.post(path, json=body, headers=PREFER)
    assert answer.status_code == 200, answer.text
    assert answer.headers["Preference-Applied"] == "wait=5"
    assert finished(answer.json()), answer.json()


# A task of 30 s or more, and how each surface spells it while it waits or runs.
SLOW_RESEARCH = {"demo_research": {"steps": 2, "step_seconds": 15}}
SLOW = {
    "async": ("/v1/async", chat("slow", "demo-deep-research", **SLOW_RESEARCH), {"CREATED", "IN_PROGRESS"}),
    "privategpt": (
        "/v1/messages/async",
        chat("slow", "demo-deep-research", **SLOW_RESEARCH),
        {"pending", "processing"},
    ),
    "netmind": ("/v1/generation", {"model": "demo-video", "config": {"prompt": "tides"}}, {"pending", "processing"}),
    "responses": (
        "/v1/responses",
        {"model": "demo-deep-research", "input": "slow", "background": True},
        {"queued", "in_progress"},
    ),
}


@pytest.mark.parametrize("surface", sorted(SLOW))
def test_a_task_that_does_not_end_within_the_wait_is_answered_when_the_wait_is_over(stack, surface):
    path, body, waiting = SLOW[surface]
    with stack.client() as client:
        began = time.monotonic()
        answer = client.post(path, json=body, headers=PREFER)
        took = time.monotonic() - began
    assert answer.status_code == 200, answer.text
    assert 5.0 <= took <= 7.0, took
    assert answer.headers["Preference-Applied"] == "wait=5"
    assert answer.json()["status"] in waiting, answer.json()


def test_a_streamed_response_does_not_wait_its_events_follow_from_its_creation(stack):
    body = {"model": "demo-deep-research", "input": "streamed", "background": True, "stream": True}
    with stack.client() as client:
        began = time.monotonic()
        with client.stream("POST", "/v1/responses", json=body, headers=PREFER) as answer:
            first = next(answer.iter_lines())
            took = time.monotonic() - began
    assert answer.status_code == 200 and "Preference-Applied" not in answer.headers
    assert first.startswith("event: response.created") and took < 2.0, (first, took)


def test_without_the_header_or_with_a_wait_it_cannot_read_the_submit_does_not_wait(stack):
    with stack.client() as client:
        for headers in ({}, {"Prefer": "wait=soon"}, {"Prefer": "respond-async"}):
            began = time.monotonic()
            answer = client.post("/v1/async", json=chat("no wait"), headers=headers)
            took = time.monotonic() - began
            assert answer.status_code == 200, answer.text
            assert "Preference-Applied" not in answer.headers
            assert answer.json()["status"] == "CREATED" and took < 1.0, (headers, took)


def test_a_wait_above_the_limit_is_honoured_up_to_the_limit(stack):
    with stack.client() as client:
        answer = client.post("/v1/async", json=chat("capped"), headers={"Prefer": "wait=3600"})
    assert answer.headers["Preference-Applied"] == "wait=20"
    assert answer.json()["status"] == "COMPLETED"


def held_waits(stack) -> int:
    found = stack.aws("dynamodb").scan(
        TableName=TABLE,
        FilterExpression="begins_with(pk, :pool)",
        ExpressionAttributeValues={":pool": {"S": "waits#"}},
        ConsistentRead=True,
    )
    return len(found["Items"])


def test_a_tenant_holding_all_its_waits_is_answered_at_once_and_another_tenant_still_waits(stack):
    slow = chat("holds a wait", "demo-deep-research", **SLOW_RESEARCH)
    other = stack.new_key("waits-other")

    def wait_slowly(_: int):
        with stack.client() as client:
            return client.post("/v1/async", json=slow, headers=PREFER)

    with ThreadPoolExecutor(WAITS_PER_TENANT) as pool:
        holding = [pool.submit(wait_slowly, n) for n in range(WAITS_PER_TENANT)]
        wait_for(lambda: held_waits(stack) == WAITS_PER_TENANT, timeout=5, what="both waits held")
        with stack.client() as client:
            began = time.monotonic()
            refused = client.post("/v1/async", json=slow, headers=PREFER)
            took = time.monotonic() - began
        with stack.client(other) as client:
            elsewhere = client.post("/v1/async", json=chat("another tenant"), headers=PREFER)
        held = [future.result() for future in holding]

    assert refused.status_code == 200 and "Preference-Applied" not in refused.headers, refused.headers
    assert refused.json()["status"] == "CREATED" and took < 2.0, (refused.json(), took)
    assert elsewhere.headers["Preference-Applied"] == "wait=5" and elsewhere.json()["status"] == "COMPLETED"
    assert all(answer.headers["Preference-Applied"] == "wait=5" for answer in held)
    # Every wait gave its hold back: the tenant waits again.
    assert held_waits(stack) == 0
    with stack.client() as client:
        again = client.post("/v1/async", json=chat("waits again"), headers=PREFER)
    assert again.headers["Preference-Applied"] == "wait=5" and again.json()["status"] == "COMPLETED"
