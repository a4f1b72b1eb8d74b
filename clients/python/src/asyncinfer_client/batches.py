"""Batches on the synchronous client (`client.batches`): created from an iterable or a JSONL file, waited on,
their results read once they ended, or while they run in the order their items end."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, Protocol

import httpx

from asyncinfer_client._core import new_idempotency_key
from asyncinfer_client.errors import WaitTimeout


class Transport(Protocol):
    """What the batches need of a client: its API calls (retried as the client retries them), and its timeout
    for the presigned downloads it does not sign."""

    def request(self, method: str, path: str, **kwargs: Any) -> tuple[Any, dict[str, str]]: ...

    @property
    def timeout(self) -> httpx.Timeout: ...


# The server's largest page of partial results.
PARTIAL_PAGE = 100


class Batches:
    """Many requests as one batch: created from an iterable or a JSONL file, waited on, read."""

    def __init__(self, client: Transport) -> None:
        self._client = client

    def create(
        self,
        requests: Iterable[dict[str, Any]] | str | Path,
        *,
        endpoint: str = "/v1/async",
        idempotency_key: str | None = None,
        complete_by: str | int | None = None,
        **fields: Any,
    ) -> dict[str, Any]:
        """`requests`: `{"custom_id", "body"}` items, or the path of a JSONL file of them. `complete_by`: every item
        done by then, as cheaply as possible (an RFC 3339 time, epoch seconds, or `+90m` from now); the batch's
        `saving` then tells what that saved against on-demand prices."""
        items = list(jsonl(requests) if isinstance(requests, str | Path) else requests)
        key = idempotency_key or new_idempotency_key()
        body = {"endpoint": endpoint, "requests": items, **fields}
        if complete_by is not None:
            body["complete_by"] = complete_by
        return self._client.request("POST", "/v1/batches", json=body, headers={"Idempotency-Key": key})[0]

    def get(self, batch_id: str) -> dict[str, Any]:
        return self._client.request("GET", f"/v1/batches/{batch_id}")[0]

    def wait(
        self, batch_id: str, timeout: float = 3600.0, on_progress: Callable[[dict], None] | None = None
    ) -> dict[str, Any]:
        """Read until every item has ended, calling `on_progress` with each read (its `request_counts`)."""
        deadline = time.monotonic() + timeout
        while True:
            batch = self.get(batch_id)
            if on_progress is not None:
                on_progress(batch)
            if batch.get("status") in ("completed", "cancelled", "failed", "expired"):
                return batch
            if time.monotonic() > deadline:
                raise WaitTimeout(batch_id, timeout)
            time.sleep(min(1.0, max(0.0, deadline - time.monotonic())))

    def results(self, batch_id: str) -> Iterator[dict[str, Any]]:
        """The result lines, in input order, from the file the batch's read presigns."""
        url = self.get(batch_id).get("results_url")
        if not url:
            return
        with httpx.Client(timeout=self._client.timeout) as plain, plain.stream("GET", url) as response:
            response.raise_for_status()
            for line in response.iter_lines():
                if line.strip():
                    yield json.loads(line)

    def retry(
        self, batch_id: str, *, include_expired: bool = False, completion_window: str | None = None
    ) -> dict[str, Any]:
        """Run an ended batch's failed items again (with `include_expired`, its expired ones too), as new tasks in
        the same batch, which is `in_progress` until they end; `completion_window`: a window of the retry's own."""
        body: dict[str, Any] = {"include_expired": include_expired}
        if completion_window is not None:
            body["completion_window"] = completion_window
        return self._client.request("POST", f"/v1/batches/{batch_id}/retry", json=body)[0]

    def partial(self, batch_id: str, after: str | None = None, limit: int | None = None) -> dict[str, Any]:
        """One page of the results so far, in the order the items ended: `data` (result lines, each with
        `ended_at` in Unix ms), `last_id` (the next page's `after`), `has_more`, and `ended` (the batch had ended)."""
        params: dict[str, Any] = {}
        if after is not None:
            params["after"] = after
        if limit is not None:
            params["limit"] = limit
        return self._client.request("GET", f"/v1/batches/{batch_id}/results", params=params)[0]

    def iter_partial(
        self,
        batch_id: str,
        after: str | None = None,
        *,
        follow: bool = False,
        interval: float = 1.0,
        timeout: float = 3600.0,
    ) -> Iterator[dict[str, Any]]:
        """Every result line after `after`, in the order the items ended. Without `follow`: those readable now;
        with it: new ones as they come (a read every `interval` seconds) until the batch ended and all were read,
        or WaitTimeout after `timeout`."""
        deadline = time.monotonic() + timeout
        while True:
            page = self.partial(batch_id, after=after, limit=PARTIAL_PAGE)
            yield from page["data"]
            after = page["last_id"]
            if page["has_more"]:
                continue
            if not follow or page["ended"]:
                return
            if time.monotonic() > deadline:
                raise WaitTimeout(batch_id, timeout)
            time.sleep(min(interval, max(0.0, deadline - time.monotonic())))


def jsonl(path: str | Path) -> Iterator[dict[str, Any]]:
    with open(path, encoding="utf-8") as lines:
        for line in lines:
            if line.strip():
                yield json.loads(line)
