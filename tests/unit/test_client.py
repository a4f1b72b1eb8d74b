"""The client's pure parts: webhook verification, the SSE parser, the retry policy, the poll hint."""

import asyncio
import base64
import json
import time

import httpx
import pytest
from asyncinfer_client import AsyncClient, Client, InvalidRequest, RateLimited, ServiceUnavailable, WaitTimeout, unwrap
from asyncinfer_client._core import Retry, poll_delay
from asyncinfer_client.events import Parser
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

SECRET = "whsec_" + base64.b64encode(b"k" * 32).decode()


def signed(payload: dict, secret: str = SECRET) -> tuple[str, dict]:
    body = json.dumps(payload)
    stamp = int(time.time())
    headers = {"webhook-id": "msg_1", "webhook-timestamp": str(stamp)}
    headers["webhook-signature"] = Webhook(secret).sign("msg_1", _dt(stamp), body)
    return body, headers


def _dt(stamp: int):
    from datetime import UTC, datetime

    return datetime.fromtimestamp(stamp, UTC)


def test_unwrap_returns_the_event_of_a_delivery_signed_with_the_secret():
    body, headers = signed({"type": "task.completed", "data": {"id": "task_1"}})
    assert unwrap(body.encode(), headers, SECRET) == {"type": "task.completed", "data": {"id": "task_1"}}


def test_unwrap_refuses_another_secret_or_a_changed_body():
    body, headers = signed({"type": "task.completed"})
    other = "whsec_" + base64.b64encode(b"o" * 32).decode()
    with pytest.raises(WebhookVerificationError):
        unwrap(body, headers, other)
    with pytest.raises(WebhookVerificationError):
        unwrap(body.replace("completed", "failed"), headers, SECRET)


def test_the_parser_makes_events_of_lines_and_skips_keepalives():
    parser = Parser()
    lines = ["retry: 1000", ": keep-alive", "id: 7", "event: delta", 'data: {"seq":7,"text":"Hi"}', ""]
    events = [e for e in (parser.feed(line) for line in lines) if e is not None]
    assert [(e.seq, e.type, e.text) for e in events] == [(7, "delta", "Hi")]


def test_retries_are_bounded_and_only_for_what_may_be_sent_again():
    retry = Retry(attempts=2, base=0.1, cap=1)
    assert retry.delay(0, ServiceUnavailable(503, "x", "y")) is not None
    assert retry.delay(0, RateLimited(429, "rate_limited", "slow", retry_after=3)) == 3
    assert retry.delay(0, InvalidRequest(400, "invalid_request", "no")) is None
    assert retry.delay(2, ServiceUnavailable(503, "x", "y")) is None


def test_the_poll_hint_is_read_in_milliseconds():
    assert poll_delay({"OpenAI-Poll-After-Ms": "5000"}, 1.0) == 5.0
    assert poll_delay({}, 1.0) == 1.0


def test_402_403_and_413_are_typed_errors_and_a_402_says_where_the_budget_stands():
    import httpx
    from asyncinfer_client import Client, Forbidden, OverBudget, TooLarge

    budget = {"code": "budget_exceeded", "message": "over", "period": "day", "spent": 0.5, "reserved": 0.4, "limit": 1}
    answers = {
        "/v1/async": (402, {"error": budget}),
        "/v1/async/task_a": (403, {"error": {"code": "class_not_allowed", "message": "no"}}),
        "/v1/async/task_b": (413, {"error": {"code": "request_too_large", "message": "big"}}),
    }

    def reply(request: httpx.Request) -> httpx.Response:
        status, body = answers[request.url.path]
        return httpx.Response(status, json=body)

    with Client("http://127.0.0.1:9", "k", transport=httpx.MockTransport(reply)) as client:
        with pytest.raises(OverBudget) as over:
            client.submit("demo-chat", prompt="hi")
        assert (over.value.period, over.value.spent, over.value.reserved, over.value.limit) == ("day", 0.5, 0.4, 1)
        with pytest.raises(Forbidden):
            client.attach("task_a").get()
        with pytest.raises(TooLarge):
            client.attach("task_b").get()


def test_the_client_reads_its_endpoint_from_the_environment_as_the_cli_does(monkeypatch):
    from asyncinfer_client import AsyncClient, Client

    monkeypatch.delenv("ASYNCINFER_BASE_URL", raising=False)
    monkeypatch.delenv("ASYNCINFER_API_KEY", raising=False)
    with pytest.raises(ValueError, match="ASYNCINFER_BASE_URL"):
        Client()
    monkeypatch.setenv("ASYNCINFER_BASE_URL", "http://127.0.0.1:9/")
    monkeypatch.setenv("ASYNCINFER_API_KEY", "sk-env")
    with Client() as client:
        assert str(client._http.base_url) == "http://127.0.0.1:9"
        assert client._http.headers["Authorization"] == "Bearer sk-env"
    assert AsyncClient()._http.headers["Authorization"] == "Bearer sk-env"


def test_tasks_iterates_every_page_lazily():
    import httpx
    from asyncinfer_client import Client

    pages = {None: (["t1", "t2"], "c1"), "c1": (["t3", "t4"], "c2"), "c2": (["t5"], None)}
    asked: list[str | None] = []

    def reply(request: httpx.Request) -> httpx.Response:
        cursor = request.url.params.get("cursor")
        asked.append(cursor)
        ids, following = pages[cursor]
        body = {"tasks": [{"id": i} for i in ids], "has_more": following is not None, "next_cursor": following}
        return httpx.Response(200, json=body)

    with Client("http://127.0.0.1:9", "k", transport=httpx.MockTransport(reply)) as client:
        listing = client.tasks(page_size=2)
        assert [next(listing)["id"] for _ in range(2)] == ["t1", "t2"] and asked == [None]
        assert [t["id"] for t in listing] == ["t3", "t4", "t5"] and asked == [None, "c1", "c2"]


@pytest.mark.parametrize("asynchronous", [False, True], ids=["sync", "async"])
def test_a_stream_that_keeps_closing_without_its_end_is_not_called_in_a_tight_loop(asynchronous):
    calls = []

    def reply(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.path)
        return httpx.Response(200, text="", headers={"content-type": "text/event-stream"})

    transport = httpx.MockTransport(reply)
    if asynchronous:

        async def follow() -> None:
            async with AsyncClient("http://127.0.0.1:9", "k", transport=transport) as client:
                async for _ in client.attach("task_x").events(timeout=1.0):
                    pass

        with pytest.raises(WaitTimeout) as timed_out:
            asyncio.run(follow())
    else:
        with Client("http://127.0.0.1:9", "k", transport=transport) as client, pytest.raises(WaitTimeout) as timed_out:
            list(client.attach("task_x").events(timeout=1.0))
    # Pauses of 0.1, 0.2, 0.4 s … between reconnects: a handful in a second, not thousands.
    assert 3 <= len(calls) <= 6, len(calls)
    assert "after 1 s" in str(timed_out.value)


def test_a_wait_under_a_second_says_how_long_it_waited():
    assert "after 0.5 s" in str(WaitTimeout("task_x", 0.5))


def test_wait_calls_on_read_with_each_read():
    reads = iter(["IN_PROGRESS", "IN_PROGRESS", "COMPLETED"])

    def reply(request: httpx.Request) -> httpx.Response:
        status = next(reads)
        progress = {"elapsed_seconds": 1} if status == "IN_PROGRESS" else None
        return httpx.Response(200, json={"id": "task_x", "status": status, "progress": progress})

    seen = []
    with Client("http://127.0.0.1:9", "k", transport=httpx.MockTransport(reply)) as client:
        done = client.attach("task_x").wait(timeout=10, poll=0.01, on_read=lambda view: seen.append(view.status))
    assert seen == ["in_progress", "in_progress", "completed"] and done.status == "completed"
