"""The client's partial results of a batch (`client.batches.partial` / `iter_partial`) against a fake server
(httpx.MockTransport): the cursor is passed on, an empty page keeps it, following stops once the batch ended."""

import json

import httpx
import pytest
from asyncinfer_client import Client, WaitTimeout


class Server:
    """Pages of a running batch: each read returns what `pages` holds next for the cursor it was given."""

    def __init__(self, pages: list[dict]) -> None:
        self.pages, self.asked = pages, []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/v1/batches/batch_1/results"
        self.asked.append(dict(request.url.params))
        return httpx.Response(200, json=self.pages.pop(0))


def page(lines: list[str], last: str | None, *, more: bool = False, ended: bool = False) -> dict:
    data = [{"custom_id": c, "status": "COMPLETED", "ended_at": 1} for c in lines]
    return {"object": "list", "data": data, "first_id": None, "last_id": last, "has_more": more, "ended": ended}


def client(server: Server) -> Client:
    return Client("http://127.0.0.1:9", "k", transport=httpx.MockTransport(server))


def test_partial_reads_one_page_after_a_cursor():
    server = Server([page(["a"], "c1")])
    with client(server) as c:
        assert c.batches.partial("batch_1", after="c0", limit=5)["last_id"] == "c1"
    assert server.asked == [{"after": "c0", "limit": "5"}]


def test_without_follow_the_lines_readable_now_are_read_page_after_page():
    server = Server([page(["a", "b"], "c2", more=True), page(["c"], "c3")])
    with client(server) as c:
        assert [line["custom_id"] for line in c.batches.iter_partial("batch_1")] == ["a", "b", "c"]
    assert [asked.get("after") for asked in server.asked] == [None, "c2"]


def test_following_goes_on_after_empty_pages_with_the_same_cursor_until_the_batch_ended():
    pages = [page(["a"], "c1"), page([], "c1"), page(["b"], "c2"), page([], "c2", ended=True)]
    server = Server(pages)
    with client(server) as c:
        lines = list(c.batches.iter_partial("batch_1", follow=True, interval=0.01))
    assert [line["custom_id"] for line in lines] == ["a", "b"]
    assert [asked.get("after") for asked in server.asked] == [None, "c1", "c1", "c2"]


def test_following_a_batch_that_does_not_end_gives_up_after_its_timeout():
    server = Server([page([], None) for _ in range(100)])
    with client(server) as c, pytest.raises(WaitTimeout):
        list(c.batches.iter_partial("batch_1", follow=True, interval=0.01, timeout=0.05))


def test_retry_posts_what_it_is_asked_and_answers_the_batch():
    sent: list[tuple[str, dict]] = []

    def server(request: httpx.Request) -> httpx.Response:
        sent.append((request.url.path, json.loads(request.content)))
        return httpx.Response(200, json={"id": "batch_1", "status": "in_progress"})

    with Client("http://127.0.0.1:9", "k", transport=httpx.MockTransport(server)) as c:
        assert c.batches.retry("batch_1")["status"] == "in_progress"
        c.batches.retry("batch_1", include_expired=True, completion_window="1h")
    assert sent == [
        ("/v1/batches/batch_1/retry", {"include_expired": False}),
        ("/v1/batches/batch_1/retry", {"include_expired": True, "completion_window": "1h"}),
    ]
