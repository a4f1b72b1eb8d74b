"""Anthropic's own Python SDK, unchanged but for its base URL and key, against the local stack: Message Batches
created, retrieved until ended, their results read from `results_url` (typed `succeeded`, `errored`, `canceled`
entries), listed page by page, cancelled and deleted; the key sent as x-api-key (as the SDK does) or as
Authorization: Bearer; and another tenant's key finds none of it."""

from __future__ import annotations

import uuid

import anthropic
import httpx
import pytest

from tests.e2e.conftest import wait_for

pytestmark = pytest.mark.e2e


def request(custom_id: str, model: str, text: str) -> dict:
    return {
        "custom_id": custom_id,
        "params": {"model": model, "max_tokens": 200, "messages": [{"role": "user", "content": text}]},
    }


@pytest.fixture(scope="module")
def client(stack) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=stack.url, api_key=stack.key, max_retries=0)


def ended(client: anthropic.Anthropic, batch_id: str, timeout: float = 120):
    return wait_for(
        lambda: (b := client.messages.batches.retrieve(batch_id)).processing_status == "ended" and b,
        timeout=timeout,
        what=f"{batch_id} ended",
    )


@pytest.fixture(scope="module")
def finished(client):
    """A batch of four: two answered, one whose model fails as it runs, one whose model does not exist."""
    batch = client.messages.batches.create(
        requests=[
            request("first", "demo-chat", "What is the capital of France?"),
            {
                "custom_id": "second",
                "params": {
                    "model": "gpt-4o-mini",
                    "max_tokens": 100,
                    "system": "Answer in one sentence.",
                    "messages": [{"role": "user", "content": [{"type": "text", "text": "Why is the sky blue?"}]}],
                    "stop_sequences": ["\n\n\n"],
                    "temperature": 0.5,
                },
            },
            request("fails-running", "demo-fail", "This one fails"),
            request("no-such-model", "claude-no-such-model", "This one is refused"),
        ]
    )
    return batch, ended(client, batch.id)


def test_a_batch_of_four_ends_with_typed_succeeded_and_errored_results(stack, client, finished):
    batch, done = finished
    assert batch.id.startswith("msgbatch_") and batch.type == "message_batch"
    assert batch.processing_status == "in_progress" and batch.results_url is None
    assert done.ended_at is not None and done.ended_at >= done.created_at and done.expires_at > done.created_at
    counts = done.request_counts
    assert (counts.processing, counts.succeeded, counts.errored, counts.canceled) == (0, 2, 2, 0)
    assert done.results_url

    results = {entry.custom_id: entry.result for entry in client.messages.batches.results(batch.id)}
    assert set(results) == {"first", "second", "fails-running", "no-such-model"}
    with stack.client() as http:
        for custom_id in ("first", "second"):
            result = results[custom_id]
            assert isinstance(result, anthropic.types.messages.MessageBatchSucceededResult)
            message = result.message
            assert message.type == "message" and message.role == "assistant" and message.id.startswith("msg_")
            assert message.stop_reason in ("end_turn", "max_tokens") and message.usage.output_tokens > 0
            # The message is the item's task: read on the Async API by its id, the same answer.
            task = http.get(f"/v1/async/{message.id}").raise_for_status().json()
            assert message.content[0].text == task["choices"][0]["message"]["content"] != ""
    running = results["fails-running"]
    assert isinstance(running, anthropic.types.messages.MessageBatchErroredResult)
    assert running.error.error.type == "api_error"
    refused = results["no-such-model"]
    assert isinstance(refused, anthropic.types.messages.MessageBatchErroredResult)
    assert refused.error.error.type == "invalid_request_error"
    assert "claude-no-such-model" in refused.error.error.message


def test_params_that_cannot_be_honoured_refuse_the_batch_naming_them(client):
    with pytest.raises(anthropic.BadRequestError, match=r"params\.tools"):
        client.messages.batches.create(
            requests=[
                {**request("t", "demo-chat", "x"), "params": {**request("t", "demo-chat", "x")["params"], "tools": []}}
            ]
        )


def test_cancelling_a_running_batch_ends_it_with_canceled_results(client):
    batch = client.messages.batches.create(
        requests=[request(f"slow-{i}", "demo-chat", f"A question of many words, number {i}") for i in range(40)]
    )
    cancelling = client.messages.batches.cancel(batch.id)
    assert cancelling.processing_status in ("canceling", "ended") and cancelling.cancel_initiated_at is not None
    done = ended(client, batch.id)
    counts = done.request_counts
    assert counts.canceled > 0 and counts.processing == 0
    assert counts.succeeded + counts.errored + counts.canceled == 40
    results = list(client.messages.batches.results(batch.id))
    assert len(results) == 40
    kinds = [entry.result.type for entry in results]
    assert kinds.count("canceled") == counts.canceled and set(kinds) <= {"succeeded", "canceled"}
    with pytest.raises(anthropic.ConflictError):
        client.messages.batches.cancel(batch.id)


def test_list_pages_one_at_a_time_without_repeats_and_back_with_before_id(client, finished):
    second = client.messages.batches.create(requests=[request("only", "demo-chat", "Hello")])
    seen = [b.id for b in client.messages.batches.list(limit=1)]
    assert len(seen) == len(set(seen)) and seen[0] == second.id and finished[0].id in seen
    page = client.messages.batches.list(limit=2)
    assert [b.id for b in page.data] == seen[:2] and page.has_more == (len(seen) > 2)
    assert page.first_id == seen[0] and page.last_id == seen[1]
    back = client.messages.batches.list(before_id=seen[2] if len(seen) > 2 else seen[1], limit=1)
    assert [b.id for b in back.data] == [seen[1] if len(seen) > 2 else seen[0]] and back.has_more is (len(seen) > 2)
    ended(client, second.id)


def test_delete_takes_only_an_ended_batch_and_then_it_is_gone(client):
    batch = client.messages.batches.create(
        requests=[request(f"slow-{i}", "demo-chat", f"A question of many words, number {i}") for i in range(20)]
    )
    with pytest.raises(anthropic.BadRequestError, match="cancel it"):
        client.messages.batches.delete(batch.id)
    client.messages.batches.cancel(batch.id)
    ended(client, batch.id)
    deleted = client.messages.batches.delete(batch.id)
    assert (deleted.id, deleted.type) == (batch.id, "message_batch_deleted")
    with pytest.raises(anthropic.NotFoundError):
        client.messages.batches.retrieve(batch.id)
    assert batch.id not in [b.id for b in client.messages.batches.list(limit=100)]


def test_another_tenants_key_finds_none_of_a_tenants_batches(stack, client, finished):
    batch = finished[0]
    other = anthropic.Anthropic(base_url=stack.url, api_key=stack.new_key("anthropic-" + uuid.uuid4().hex[:8]))
    for call in (
        other.messages.batches.retrieve,
        other.messages.batches.cancel,
        other.messages.batches.delete,
        other.messages.batches.results,
    ):
        with pytest.raises(anthropic.NotFoundError):
            call(batch.id)
    assert batch.id not in [b.id for b in other.messages.batches.list()]
    # Still there for its owner.
    assert client.messages.batches.retrieve(batch.id).processing_status == "ended"


def test_the_routes_take_a_bearer_key_too_and_refuse_a_bad_x_api_key(stack, finished):
    batch = finished[0]
    with httpx.Client(base_url=stack.url, headers={"Authorization": f"Bearer {stack.key}"}, timeout=10) as bearer:
        read = bearer.get(f"/v1/messages/batches/{batch.id}")
        assert read.status_code == 200 and read.json()["id"] == batch.id
        assert bearer.get("/v1/messages/batches", params={"limit": 1}).status_code == 200
    bad = anthropic.Anthropic(base_url=stack.url, api_key="ai_not-a-key", max_retries=0)
    with pytest.raises(anthropic.AuthenticationError):
        bad.messages.batches.retrieve(batch.id)
    with httpx.Client(base_url=stack.url, timeout=10) as anonymous:
        assert anonymous.get(f"/v1/messages/batches/{batch.id}").status_code == 401
    # Elsewhere the key is still read from Authorization alone, as before.
    with httpx.Client(base_url=stack.url, headers={"x-api-key": stack.key}, timeout=10) as keyed:
        assert keyed.get("/v1/batches").status_code == 401
