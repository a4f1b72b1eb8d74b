"""An OpenAI-compatible server's Files + Batches as a model's batch jobs
(https://platform.openai.com/docs/api-reference/batch): the items uploaded as one `purpose=batch` file of
`{custom_id: <index>, method, url, body}` lines, one batch on /v1/chat/completions, polled, its output and error
files joined back on `custom_id`. An expired or cancelled batch keeps the output of what it finished."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import openai

from asyncinfer.domain.model import Usage
from asyncinfer.domain.requests import ChatRequest
from asyncinfer.providers.batch_jobs import BatchJobState, BatchRecord, RecordResult
from asyncinfer.providers.openai_provider import classify, request_params

RUNNING = frozenset({"validating", "in_progress", "finalizing", "cancelling"})
ENDED = frozenset({"completed", "expired", "cancelled"})
ENDPOINT = "/v1/chat/completions"


class OpenAIBatchJobs:
    def __init__(self, client: Callable[[], openai.OpenAI]) -> None:
        self._client = client

    def prepare(self, upstream_model: str, records: list[BatchRecord]) -> bytes:
        lines = []
        for record in records:
            params = request_params(ChatRequest.model_validate(record.request))
            body = {"model": upstream_model, **params.pop("extra_body", {}), **params}
            lines.append(json.dumps({"custom_id": str(record.index), "method": "POST", "url": ENDPOINT, "body": body}))
        return "".join(line + "\n" for line in lines).encode()

    def start(self, upstream_model: str, data: bytes, input_uri: str, output_uri: str, token: str) -> dict[str, Any]:
        client = self._client()
        try:
            uploaded = client.files.create(file=(f"{token}.jsonl", data), purpose="batch")
            batch = client.batches.create(
                input_file_id=uploaded.id,
                endpoint=ENDPOINT,
                completion_window="24h",
                metadata={"asyncinfer": token},
                extra_headers={"Idempotency-Key": token},
            )
        except openai.OpenAIError as exc:
            raise classify(exc) from exc
        return {"api": "openai", "id": batch.id}

    def poll(self, job: dict[str, Any]) -> BatchJobState:
        try:
            batch = self._client().batches.retrieve(job["id"])
        except openai.OpenAIError as exc:
            raise classify(exc) from exc
        state = "running" if batch.status in RUNNING else "ended" if batch.status in ENDED else "failed"
        counts = batch.request_counts
        errors = batch.errors.data if batch.errors is not None and batch.errors.data else []
        return BatchJobState(
            state=state,
            status=batch.status,
            processed=(counts.completed + counts.failed) if counts else 0,
            total=counts.total if counts else 0,
            error="; ".join(e.message or e.code or "" for e in errors) or None if state == "failed" else None,
            started_ms=batch.created_at * 1000 if batch.created_at else None,
        )

    def results(self, job: dict[str, Any]) -> Iterator[RecordResult]:
        client = self._client()
        try:
            batch = client.batches.retrieve(job["id"])
            for file_id in (batch.output_file_id, batch.error_file_id):
                if file_id:
                    for line in client.files.content(file_id).text.splitlines():
                        if line.strip() and (result := _result(json.loads(line))) is not None:
                            yield result
        except openai.OpenAIError as exc:
            raise classify(exc) from exc

    def stop(self, job: dict[str, Any]) -> None:
        try:
            self._client().batches.cancel(job["id"])
        except openai.ConflictError:
            return  # already ended
        except openai.OpenAIError as exc:
            raise classify(exc) from exc


def _result(line: dict[str, Any]) -> RecordResult | None:
    """A line of the output or error file; None for a request that never ran (expired, cancelled): its item
    is reported absent, as Bedrock's are."""
    index = int(line["custom_id"])
    response = line.get("response")
    if response is None:
        return None
    body = response.get("body") or {}
    if response.get("status_code") != 200:
        error = body.get("error") or {}
        code = "provider_rejected" if 400 <= int(response.get("status_code") or 500) < 500 else "provider_error"
        return RecordResult(index, code=code, message=str(error.get("message") or "The request failed upstream"))
    choice = (body.get("choices") or [{}])[0]
    raw = body.get("usage") or {}
    prompt, completion = raw.get("prompt_tokens", 0), raw.get("completion_tokens", 0)
    usage = Usage(
        prompt_tokens=prompt, completion_tokens=completion, total_tokens=raw.get("total_tokens", prompt + completion)
    )
    text = (choice.get("message") or {}).get("content") or ""
    return RecordResult(index, text=text, finish_reason=choice.get("finish_reason") or "stop", usage=usage)
