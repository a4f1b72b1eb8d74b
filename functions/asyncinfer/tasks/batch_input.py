"""A batch's input, read and checked before the batch is stored: where its lines come from (the body's `requests`, an
upload of the tenant's, a bucket the deployment allows, a stored file), each line read as a client's JSON and checked as
its own submit would be, all problems (up to ten) in one answer; and the limits a deployment sets on batches."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from asyncinfer.blobs.base import upload_key
from asyncinfer.domain.anthropic_messages import UnsupportedParam, to_chat
from asyncinfer.domain.batches import BatchRequest, DuplicateCustomId, InvalidBatch, Item
from asyncinfer.domain.client_json import loads_client_json
from asyncinfer.domain.errors import InvalidRequest
from asyncinfer.domain.records import BatchEndpoint
from asyncinfer.domain.requests import validation_message
from asyncinfer.domain.submission import Prepared, Submission
from asyncinfer.tasks.files import Files
from asyncinfer.tasks.service import TaskService

# The endpoints whose lines are OpenAI's (`method`, `url`: the url must be the batch's endpoint).
OPENAI_LINES = (BatchEndpoint.CHAT_COMPLETIONS, BatchEndpoint.EMBEDDINGS, BatchEndpoint.RESPONSES)
MAX_PROBLEMS = 10


@dataclass(frozen=True)
class BatchLimits:
    max_items: int = 10_000
    max_input_bytes: int = 100 * 1024 * 1024
    retention_days: int = 30
    download_url_seconds: int = 3600
    # Buckets, besides the deployment's own uploads/<tenant>/, that input files may be read from.
    input_buckets: tuple[str, ...] = ()
    own_bucket: str = ""


Reader = Callable[[str, str, int], bytes]  # bucket, key, max bytes -> the object's bytes


class BatchInput:
    """Part of Batches: its task service, files, input reader and limits are the batches'."""

    tasks: TaskService
    files: Files | None
    read_input: Reader
    limits: BatchLimits

    def _source(self, tenant: str, request: BatchRequest) -> str:
        if request.input_file_id is None:
            return request.input_file or ""
        if self.files is None:
            raise InvalidBatch("input_file_id is not served by this function")
        return f"s3://{self.limits.own_bucket}/{self.files.input_key(tenant, request.input_file_id)}"

    def _load(self, tenant: str, url: str) -> list[Any]:
        bucket, _, key = url.removeprefix("s3://").partition("/")
        own = bucket == self.limits.own_bucket and key.startswith(upload_key(tenant, "")[: -len(".jsonl")])
        if not own and bucket not in self.limits.input_buckets:
            raise InvalidBatch(
                f"input_file must be an upload of yours (POST /v1/batches/uploads) or in a bucket the deployment "
                f"allows; {bucket!r} is not"
            )
        try:
            raw = self.read_input(bucket, key, self.limits.max_input_bytes)
        except FileNotFoundError:
            raise InvalidBatch(f"input_file {url} does not exist") from None
        if len(raw) > self.limits.max_input_bytes:
            raise InvalidBatch(f"input_file is larger than {self.limits.max_input_bytes} bytes")
        items: list[Any] = []
        for number, line in enumerate(raw.decode("utf-8", errors="replace").splitlines(), start=1):
            if not line.strip():
                continue
            try:
                items.append(loads_client_json(line))
            except json.JSONDecodeError as exc:
                raise InvalidBatch(f"input_file line {number} is not JSON: {exc.msg}") from None
            except ValueError as exc:
                raise InvalidBatch(f"input_file line {number} is not JSON: {exc}") from None
        return items

    def _validate(
        self, tenant: str, endpoint: BatchEndpoint, items: list[Any], prepared: list[Prepared] | None = None
    ) -> list[dict[str, Any]]:
        """Every item, checked as its own submit would be; all problems (up to ten) in one answer. Each item
        as it was prepared goes to `prepared`, when given."""
        if not items:
            raise InvalidBatch("The batch has no requests")
        if len(items) > self.limits.max_items:
            raise InvalidBatch(f"The batch has {len(items)} requests; the limit is {self.limits.max_items}")
        seen: dict[str, int] = {}
        problems: list[str] = []
        lines: list[dict[str, Any]] = []
        for number, raw in enumerate(items, start=1):
            try:
                item = Item.model_validate(raw)
            except ValidationError as exc:
                problems.append(f"request {number}: {validation_message(exc)}")
                continue
            if item.custom_id in seen:
                raise DuplicateCustomId(
                    f"custom_id {item.custom_id!r} appears in requests {seen[item.custom_id]} and {number}; "
                    "each must be unique within the batch"
                )
            seen[item.custom_id] = number
            url = (item.model_extra or {}).get("url")
            openai_lines = endpoint in OPENAI_LINES
            if openai_lines and url is not None and url != endpoint.value:
                problems.append(f"request {number} ({item.custom_id}): url {url!r} is not the batch's endpoint")
                continue
            try:
                ready = self._prepare(endpoint, item.body)
                if prepared is not None:
                    prepared.append(ready)
            except InvalidRequest as exc:
                # An embeddings line that fails its checks fails alone too, in OpenAI's error file.
                alone = endpoint in (BatchEndpoint.MESSAGES, BatchEndpoint.EMBEDDINGS)
                if not alone or isinstance(exc, UnsupportedParam):
                    problems.append(f"request {number} ({item.custom_id}): {exc.message}")
                else:  # As Anthropic validates an item's params: it ends errored, the batch goes on.
                    lines.append({"custom_id": item.custom_id, "body": item.body, "refused": True})
                    continue
            lines.append({"custom_id": item.custom_id, "body": item.body})
        if problems:
            more = f" (and {len(problems) - MAX_PROBLEMS} more)" if len(problems) > MAX_PROBLEMS else ""
            raise InvalidBatch("; ".join(problems[:MAX_PROBLEMS]) + more)
        return lines

    def _prepare(self, endpoint: BatchEndpoint, body: dict[str, Any]) -> Prepared:
        # The embeddings and Responses modules are imported by their own endpoints' items: a function's cold start
        # does not define their request models.
        how = Submission(surface="batch")
        if endpoint == BatchEndpoint.GENERATION:
            return self.tasks.prepare_generation(body, how)
        if endpoint == BatchEndpoint.MESSAGES:
            return self.tasks.prepare_chat(to_chat(body), how)
        if endpoint == BatchEndpoint.EMBEDDINGS:
            from asyncinfer.domain.embeddings import prepare_embedding

            return prepare_embedding(self.tasks.registry, self.tasks.limits, body, how)
        if endpoint == BatchEndpoint.RESPONSES:
            from asyncinfer.domain import responses

            chat = responses.chat_body_of(body, self.tasks.registry.default_chat(), background=False)
            return self.tasks.prepare_chat(chat, how)
        return self.tasks.prepare_chat(body, how)
