"""Classes and lanes through the real handlers: each class's tasks wait in their own queue, reads echo the
class, and a queued task's place in its lane is exact while nothing else arrives."""

from __future__ import annotations

import pytest

from asyncinfer.domain.ids import parse_any

pytestmark = pytest.mark.integration


def chat(text: str, **extra) -> dict:
    return {"model": "demo-chat", "messages": [{"role": "user", "content": text}], **extra}


def submit(aws, tenant: str = "acme", **extra) -> str:
    status, task = aws.api("POST", "/v1/async", body=chat("hello", **extra), tenant=tenant)
    assert status == 200, task
    return task["id"]


def read(aws, task_id: str, tenant: str = "acme") -> dict:
    status, task = aws.api("GET", f"/v1/async/{task_id}", tenant=tenant)
    assert status == 200, task
    return task


def depths(aws) -> dict[str, int]:
    r = aws.resources
    urls = {"priority": r.priority_queue_url, "default": r.queue_url, "flex": r.flex_queue_url}
    return {lane: aws.queue_depth(url) for lane, url in urls.items()}


@pytest.mark.parametrize(
    ("extra", "tier"),
    [
        ({}, "default"),
        ({"service_tier": "priority"}, "priority"),
        ({"service_tier": "flex"}, "flex"),
        ({"service_tier": "auto"}, "default"),
        ({"service_tier": "scale"}, "priority"),
    ],
)
def test_each_class_waits_in_its_own_lane_and_reads_echo_it(aws, extra, tier):
    task_id = submit(aws, **extra)
    assert depths(aws) == {lane: int(lane == tier) for lane in ("priority", "default", "flex")}
    assert read(aws, task_id)["service_tier"] == tier
    aws.run_worker()
    done = read(aws, task_id)
    assert done["status"] == "COMPLETED" and done["service_tier"] == tier and "queue_position" not in done


@pytest.mark.parametrize(("priority", "tier"), [(5, "priority"), (0, "default"), (-1, "flex"), (None, "default")])
def test_privategpts_priority_chooses_the_class(aws, priority, tier):
    body = {"messages": [{"role": "user", "content": "hi"}], **({"priority": priority} if priority is not None else {})}
    status, made = aws.api("POST", "/v1/messages/async", body=body, function="api_privategpt")
    assert status == 200, made
    status, read_ = aws.api("GET", f"/v1/messages/async/{made['message_id']}/status", function="api_privategpt")
    assert read_["service_tier"] == tier and read_["queue_position"] == 0


def test_a_generation_takes_a_class_too(aws):
    body = {"model": "demo-image", "config": {"prompt": "a dot"}, "service_tier": "flex"}
    status, made = aws.api("POST", "/v1/generation", body=body, function="api_netmind")
    assert status == 200, made
    assert depths(aws)["flex"] == 1
    status, read_ = aws.api("GET", f"/v1/generation/{made['id']}", function="api_netmind")
    assert read_["service_tier"] == "flex" and read_["queue_position"] == 0


@pytest.mark.parametrize(
    ("extra", "message"),
    [({"service_tier": "gold"}, "service_tier must be one of"), ({"priority": "high"}, "priority must be an integer")],
)
def test_an_unknown_class_is_a_400_and_queues_nothing(aws, extra, message):
    status, answer = aws.api("POST", "/v1/async", body=chat("x", **extra))
    assert status == 400 and message in answer["error"]["message"], answer
    assert sum(depths(aws).values()) == 0


def test_the_places_of_queued_tasks_are_exact_across_tenants_and_lanes(aws, monkeypatch):
    # One batch, and no more: an invocation that takes more from the queue itself would start them all.
    monkeypatch.setenv("ASYNCINFER_WORKER_REFILL", "false")
    others = [submit(aws, tenant="globex") for _ in range(3)]
    mine = [submit(aws) for _ in range(20)]
    flex = submit(aws, service_tier="flex")
    assert [read(aws, t)["queue_position"] for t in mine] == list(range(3, 23))
    assert read(aws, others[0], tenant="globex")["queue_position"] == 0
    assert read(aws, flex)["queue_position"] == 0  # another lane: nobody ahead of it
    # Perplexity's read, in its own shape, says the same.
    _, pplx = aws.api("GET", f"/async/chat/completions/{parse_any(mine[5])}", function="api_perplexity")
    assert pplx["queue_position"] == 8 and pplx["service_tier"] == "default"

    # One batch of ten starts: everyone behind moves up by ten.
    assert aws.run_queue("worker", max_batches=1) == 10
    waiting = [t for t in mine if read(aws, t)["status"] == "CREATED"]
    assert [read(aws, t)["queue_position"] for t in waiting] == list(range(len(waiting)))
    assert len(waiting) == 13


def test_start_estimates_follow_the_lanes_recent_starts(aws):
    first = [submit(aws) for _ in range(10)]
    idle = read(aws, first[0])
    assert idle["estimated_start_at"] is not None  # next in line
    assert read(aws, first[1])["estimated_start_at"] is None  # the lane started nothing lately
    aws.run_queue("worker", max_batches=1)
    queued = [submit(aws) for _ in range(5)]
    estimates = [read(aws, t)["estimated_start_at"] for t in queued]
    assert all(e is not None for e in estimates) and estimates == sorted(estimates)
