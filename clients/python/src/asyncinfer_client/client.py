"""The synchronous client. Every call is bounded: requests by the client's timeout, waits and streams by
their own `timeout`; nothing blocks forever."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx

from asyncinfer_client._core import (
    Kind,
    OnTimeout,
    Retry,
    Routes,
    answer,
    bounded,
    chat_body,
    ended,
    endpoint,
    kind_of,
    list_params,
    new_idempotency_key,
    output_files,
    poll_delay,
)
from asyncinfer_client.batches import Batches
from asyncinfer_client.errors import TaskFailed, WaitTimeout
from asyncinfer_client.events import Event, Parser
from asyncinfer_client.views import Status, TaskView


class Client:
    def __init__(
        self,
        base_url: str | None = None,
        api_key: str | None = None,
        *,
        timeout: float = 30.0,
        retry: Retry | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        base_url, api_key = endpoint(base_url, api_key)
        self._http = httpx.Client(
            base_url=base_url,
            headers={"Authorization": f"Bearer {api_key}"},
            timeout=timeout,
            transport=transport,
        )
        self._retry = retry or Retry()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def request(self, method: str, path: str, **kwargs: Any) -> tuple[Any, dict[str, str]]:
        """One API call, sent again (with the same body and headers) after a connection error, a 5xx or a
        429, a bounded number of times."""
        attempt = 0
        while True:
            try:
                response = self._http.request(method, path, **kwargs)
                return answer(response.status_code, dict(response.headers), response.content), dict(response.headers)
            except Exception as exc:
                delay = self._retry.delay(attempt, exc) if _retryable(exc) else None
                if delay is None:
                    raise
                time.sleep(delay)
                attempt += 1

    def submit(
        self,
        model: str,
        messages: list[dict[str, Any]] | None = None,
        *,
        prompt: str | None = None,
        idempotency_key: str | None = None,
        **fields: Any,
    ) -> Task:
        """A chat completion on the Async API; its retries carry one idempotency key, so a submit whose
        answer was lost is answered with the task it made."""
        key = idempotency_key or new_idempotency_key()
        body, _ = self.request(
            "POST", "/v1/async", json=chat_body(model, messages, prompt, fields), headers={"Idempotency-Key": key}
        )
        return Task(self, Routes("chat", body["id"]), body)

    def generate(
        self, model: str, config: dict[str, Any], *, idempotency_key: str | None = None, **fields: Any
    ) -> Task:
        """An image, audio or video generation (the NetMind surface)."""
        key = idempotency_key or new_idempotency_key()
        body, _ = self.request(
            "POST",
            "/v1/generation",
            json={"model": model, "config": config, **fields},
            headers={"Idempotency-Key": key},
        )
        return Task(self, Routes("generation", body["id"]), body)

    def attach(self, task_id: str, kind: Kind | None = None) -> Task:
        """A task submitted earlier (by this process or another), by its id."""
        return Task(self, Routes(kind or kind_of(task_id), task_id), {"id": task_id})

    def run(
        self,
        model: str,
        messages: list[dict[str, Any]] | None = None,
        *,
        prompt: str | None = None,
        on_event: Callable[[Event], None] | None = None,
        timeout: float = 600.0,
        on_timeout: OnTimeout = "raise",
        **fields: Any,
    ) -> TaskView:
        """Submit and wait, feeding `on_event` every event of the task's stream once, in order."""
        return self.submit(model, messages, prompt=prompt, **fields).run(on_event, timeout, on_timeout)

    def list(self, limit: int = 20, cursor: str | None = None, status: str | None = None) -> dict[str, Any]:
        """One page of the Async API's tasks, newest first (`next_cursor` reads the next)."""
        return self.request("GET", "/v1/async", params=list_params(limit, cursor, status))[0]

    def tasks(self, status: str | None = None, page_size: int = 50) -> Iterator[TaskView]:
        """Every task, newest first, page after page as the iteration goes."""
        cursor = None
        while True:
            page = self.list(page_size, cursor, status)
            yield from (TaskView(task) for task in page.get("tasks", []))
            cursor = page.get("next_cursor")
            if not page.get("has_more") or not cursor:
                return

    @property
    def timeout(self) -> httpx.Timeout:
        return self._http.timeout

    @property
    def batches(self) -> Batches:
        return Batches(self)


class Task:
    """A handle on one task. `last` is what the latest read said."""

    def __init__(self, client: Client, routes: Routes, last: dict[str, Any]) -> None:
        self._client = client
        self._routes = routes
        self.last = TaskView(last)
        self._hint = 1.0

    @property
    def id(self) -> str:
        return self._routes.task_id

    @property
    def kind(self) -> Kind:
        return self._routes.kind

    def get(self) -> TaskView:
        body, headers = self._client.request("GET", self._routes.read)
        self.last, self._hint = TaskView(body), poll_delay(headers, 1.0)
        return self.last

    def status(self) -> Status:
        return self.get().status

    def wait(
        self,
        timeout: float = 600.0,
        on_timeout: OnTimeout = "raise",
        poll: float | None = None,
        on_read: Callable[[TaskView], None] | None = None,
    ) -> TaskView:
        """Read until the task ends, as often as the server's poll hint says (or every `poll` seconds).
        After `timeout`: raise WaitTimeout, cancel the task ("cancel"), or return it running ("detach").
        `on_read` is called with each read (its status, its progress)."""
        deadline = time.monotonic() + timeout
        while True:
            task = self.get()
            if on_read is not None:
                on_read(task)
            left = deadline - time.monotonic()
            if ended(task):
                return task
            if left <= 0:
                return self._timed_out(on_timeout, timeout)
            time.sleep(min(left, poll or self._hint))

    def _timed_out(self, on_timeout: OnTimeout, waited: float) -> TaskView:
        if on_timeout == "cancel":
            return self.cancel()
        if on_timeout == "detach":
            return self.get()  # as it stands now: a stream's events do not update `last`
        raise WaitTimeout(self.id, waited)

    def events(self, starting_after: int = 0, timeout: float = 600.0) -> Iterator[Event]:
        """The task's events after `starting_after`, each once and in order, ending with the `end` event
        (which carries the task). A dropped connection is resumed from the last event seen."""
        if self._routes.events is None:
            raise ValueError("generations have no event stream; use wait()")
        deadline = time.monotonic() + timeout
        last, attempt = starting_after, 0
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise WaitTimeout(self.id, timeout)
            headers = {"Last-Event-ID": str(last)} if last else {}
            bound = bounded(self._client._http.timeout, left)
            try:
                with self._client._http.stream("GET", self._routes.events, headers=headers, timeout=bound) as response:
                    if response.status_code >= 400:
                        answer(response.status_code, dict(response.headers), response.read())
                    parser = Parser()
                    for line in response.iter_lines():
                        if time.monotonic() > deadline:  # checked on every line, keep-alives included
                            raise WaitTimeout(self.id, timeout)
                        event = parser.feed(line)
                        if event is None:
                            continue
                        if event.type == "end":
                            self.last = TaskView(event.data) if isinstance(event.data, dict) else self.last
                            yield event
                            return
                        if event.seq is not None and event.seq <= last:
                            continue  # already seen: never twice
                        last = event.seq if event.seq is not None else last
                        attempt = 0
                        yield event
            except httpx.TransportError:
                pass
            # Dropped, or closed without its `end` event: reconnect after a pause that grows while nothing new
            # comes, so a server that keeps closing the stream is not called in a tight loop.
            time.sleep(min(2.0, 0.1 * 2**attempt, max(0.0, deadline - time.monotonic())))
            attempt += 1

    def run(
        self, on_event: Callable[[Event], None] | None = None, timeout: float = 600.0, on_timeout: OnTimeout = "raise"
    ) -> TaskView:
        """Follow the task's stream to its end, feeding `on_event`; then the task as a read shows it."""
        if self._routes.events is None:
            return self.wait(timeout, on_timeout)
        try:
            for event in self.events(timeout=timeout):
                if on_event is not None:
                    on_event(event)
        except WaitTimeout:
            return self._timed_out(on_timeout, timeout)
        return self.get()

    def result(self, timeout: float = 600.0) -> TaskView:
        """The completed task; TaskFailed if it ended otherwise."""
        task = self.wait(timeout)
        if task.status != "completed":
            raise TaskFailed(task)
        return task

    def cancel(self) -> TaskView:
        method, path = self._routes.cancel
        self._client.request(method, path)
        return self.get()

    def delete(self) -> None:
        self._client.request("DELETE", self._routes.read)

    def download(self, directory: str | Path, timeout: float = 600.0) -> list[Path]:
        """A completed generation's files, fetched through the URLs its read presigns."""
        task = self.result(timeout)
        files = output_files(task)
        if not files:
            return []  # a chat task, or a generation without files: nothing to make a directory for
        target = Path(directory)
        target.mkdir(parents=True, exist_ok=True)
        saved = []
        with httpx.Client(timeout=self._client._http.timeout) as plain:  # presigned: no API key on these
            for file in files:
                response = plain.get(file.url)
                response.raise_for_status()
                path = target / file.name
                path.write_bytes(response.content)
                saved.append(path)
        return saved


def _retryable(exc: Exception) -> bool:
    from asyncinfer_client.errors import RateLimited, ServiceUnavailable

    return isinstance(exc, httpx.TransportError | RateLimited | ServiceUnavailable)
