"""The asyncio client: the same calls as `Client`, awaited. Nothing in it blocks the event loop: HTTP
through httpx's AsyncClient, waits through asyncio.sleep."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
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
from asyncinfer_client.errors import RateLimited, ServiceUnavailable, TaskFailed, WaitTimeout
from asyncinfer_client.events import Event, Parser
from asyncinfer_client.views import Status, TaskView


class AsyncClient:
    def __init__(
        self,
        base_url: str | None = None,
        api_key: str | None = None,
        *,
        timeout: float = 30.0,
        retry: Retry | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        base_url, api_key = endpoint(base_url, api_key)
        self._http = httpx.AsyncClient(
            base_url=base_url,
            headers={"Authorization": f"Bearer {api_key}"},
            timeout=timeout,
            transport=transport,
        )
        self._retry = retry or Retry()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def request(self, method: str, path: str, **kwargs: Any) -> tuple[Any, dict[str, str]]:
        attempt = 0
        while True:
            try:
                response = await self._http.request(method, path, **kwargs)
                return answer(response.status_code, dict(response.headers), response.content), dict(response.headers)
            except Exception as exc:
                retryable = isinstance(exc, httpx.TransportError | RateLimited | ServiceUnavailable)
                delay = self._retry.delay(attempt, exc) if retryable else None
                if delay is None:
                    raise
                await asyncio.sleep(delay)
                attempt += 1

    async def submit(
        self,
        model: str,
        messages: list[dict[str, Any]] | None = None,
        *,
        prompt: str | None = None,
        idempotency_key: str | None = None,
        **fields: Any,
    ) -> AsyncTask:
        key = idempotency_key or new_idempotency_key()
        body, _ = await self.request(
            "POST", "/v1/async", json=chat_body(model, messages, prompt, fields), headers={"Idempotency-Key": key}
        )
        return AsyncTask(self, Routes("chat", body["id"]), body)

    async def generate(
        self, model: str, config: dict[str, Any], *, idempotency_key: str | None = None, **fields: Any
    ) -> AsyncTask:
        key = idempotency_key or new_idempotency_key()
        body, _ = await self.request(
            "POST",
            "/v1/generation",
            json={"model": model, "config": config, **fields},
            headers={"Idempotency-Key": key},
        )
        return AsyncTask(self, Routes("generation", body["id"]), body)

    async def list(self, limit: int = 20, cursor: str | None = None, status: str | None = None) -> dict[str, Any]:
        return (await self.request("GET", "/v1/async", params=list_params(limit, cursor, status)))[0]

    async def tasks(self, status: str | None = None, page_size: int = 50) -> AsyncIterator[TaskView]:
        """Every task, newest first, page after page as the iteration goes."""
        cursor = None
        while True:
            page = await self.list(page_size, cursor, status)
            for task in page.get("tasks", []):
                yield TaskView(task)
            cursor = page.get("next_cursor")
            if not page.get("has_more") or not cursor:
                return

    def attach(self, task_id: str, kind: Kind | None = None) -> AsyncTask:
        return AsyncTask(self, Routes(kind or kind_of(task_id), task_id), {"id": task_id})

    async def run(
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
        task = await self.submit(model, messages, prompt=prompt, **fields)
        return await task.run(on_event, timeout, on_timeout)


class AsyncTask:
    def __init__(self, client: AsyncClient, routes: Routes, last: dict[str, Any]) -> None:
        self._client = client
        self._routes = routes
        self.last = TaskView(last)
        self._hint = 1.0

    @property
    def id(self) -> str:
        return self._routes.task_id

    async def get(self) -> TaskView:
        body, headers = await self._client.request("GET", self._routes.read)
        self.last, self._hint = TaskView(body), poll_delay(headers, 1.0)
        return self.last

    async def status(self) -> Status:
        return (await self.get()).status

    async def wait(
        self,
        timeout: float = 600.0,
        on_timeout: OnTimeout = "raise",
        poll: float | None = None,
        on_read: Callable[[TaskView], None] | None = None,
    ) -> TaskView:
        deadline = time.monotonic() + timeout
        while True:
            task = await self.get()
            if on_read is not None:
                on_read(task)
            left = deadline - time.monotonic()
            if ended(task):
                return task
            if left <= 0:
                return await self._timed_out(on_timeout, timeout)
            await asyncio.sleep(min(left, poll or self._hint))

    async def _timed_out(self, on_timeout: OnTimeout, waited: float) -> TaskView:
        if on_timeout == "cancel":
            return await self.cancel()
        if on_timeout == "detach":
            return await self.get()  # as it stands now: a stream's events do not update `last`
        raise WaitTimeout(self.id, waited)

    async def events(self, starting_after: int = 0, timeout: float = 600.0) -> AsyncIterator[Event]:
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
                async with self._client._http.stream(
                    "GET", self._routes.events, headers=headers, timeout=bound
                ) as response:
                    if response.status_code >= 400:
                        answer(response.status_code, dict(response.headers), await response.aread())
                    parser = Parser()
                    async for line in response.aiter_lines():
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
                            continue
                        last = event.seq if event.seq is not None else last
                        attempt = 0
                        yield event
            except httpx.TransportError:
                pass
            # Dropped, or closed without its `end` event: reconnect after a pause that grows while nothing new
            # comes, so a server that keeps closing the stream is not called in a tight loop.
            await asyncio.sleep(min(2.0, 0.1 * 2**attempt, max(0.0, deadline - time.monotonic())))
            attempt += 1

    async def run(
        self, on_event: Callable[[Event], None] | None = None, timeout: float = 600.0, on_timeout: OnTimeout = "raise"
    ) -> TaskView:
        if self._routes.events is None:
            return await self.wait(timeout, on_timeout)
        try:
            async for event in self.events(timeout=timeout):
                if on_event is not None:
                    on_event(event)
        except WaitTimeout:
            return await self._timed_out(on_timeout, timeout)
        return await self.get()

    async def result(self, timeout: float = 600.0) -> TaskView:
        task = await self.wait(timeout)
        if task.status != "completed":
            raise TaskFailed(task)
        return task

    async def cancel(self) -> TaskView:
        method, path = self._routes.cancel
        await self._client.request(method, path)
        return await self.get()

    async def delete(self) -> None:
        await self._client.request("DELETE", self._routes.read)

    async def download(self, directory: str | Path, timeout: float = 600.0) -> list[Path]:
        """A completed generation's files, fetched through the URLs its read presigns."""
        task = await self.result(timeout)
        files = output_files(task)
        if not files:
            return []  # a chat task, or a generation without files: nothing to make a directory for
        target = Path(directory)
        target.mkdir(parents=True, exist_ok=True)
        saved = []
        async with httpx.AsyncClient(timeout=self._client._http.timeout) as plain:  # presigned: no API key
            for file in files:
                response = await plain.get(file.url)
                response.raise_for_status()
                path = target / file.name
                await asyncio.to_thread(path.write_bytes, response.content)
                saved.append(path)
        return saved
