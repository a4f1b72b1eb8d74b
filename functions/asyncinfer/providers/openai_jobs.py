"""OpenAI's Responses API in background mode as upstream jobs: `background: true` starts the response,
`GET /v1/responses/{id}` polls it (queued, in_progress, then completed, failed, cancelled or incomplete),
`POST /v1/responses/{id}/cancel` cancels it (https://developers.openai.com/docs/guides/background). Any
server that implements those three calls serves; the official SDK makes them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import openai

from asyncinfer.domain.model import TaskKind, Usage
from asyncinfer.providers.base import JobState, ProviderError
from asyncinfer.providers.openai_provider import classify

RUNNING = frozenset({"queued", "in_progress"})
ROLES = frozenset({"system", "developer", "user", "assistant"})


class OpenAIClientJobs:
    """Jobs made through the official SDK's client, built on first use (a poll in a fresh invocation
    builds it there)."""

    def __init__(self, client_factory: Callable[[], openai.OpenAI]) -> None:
        self._factory = client_factory
        self._client: openai.OpenAI | None = None

    def client(self) -> openai.OpenAI:
        if self._client is None:
            self._client = self._factory()
        return self._client


class OpenAIBackgroundJobs(OpenAIClientJobs):
    def start(self, upstream_model: str, kind: TaskKind, config: dict[str, Any], output_uri: str, token: str) -> dict:
        if kind != TaskKind.CHAT:
            raise ProviderError("invalid_request", f"{upstream_model} answers chat requests only", retryable=False)
        items = []
        for message in config.get("messages") or []:
            if message.get("role") not in ROLES:
                raise ProviderError(
                    "invalid_request",
                    "A background response takes system, user and assistant messages",
                    retryable=False,
                )
            items.append({"role": message["role"], "content": message.get("content") or ""})
        extra: dict[str, Any] = {}
        if config.get("max_tokens"):
            extra["max_output_tokens"] = config["max_tokens"]
        try:
            response = self.client().responses.create(
                model=upstream_model,
                input=items,  # type: ignore[arg-type]
                background=True,
                extra_headers={"Idempotency-Key": token},
                **extra,
            )
        except openai.OpenAIError as exc:
            raise classify(exc) from None
        return {"id": response.id}

    def poll(self, job: dict) -> JobState:
        try:
            response = self.client().responses.retrieve(job["id"])
        except openai.OpenAIError as exc:
            raise classify(exc) from None
        status = response.status or "queued"
        if status in RUNNING:
            return JobState("running")
        if status == "completed":
            usage = response.usage
            prompt, completion = (usage.input_tokens, usage.output_tokens) if usage else (0, 0)
            counted = Usage(prompt_tokens=prompt, completion_tokens=completion, total_tokens=prompt + completion)
            return JobState("completed", 100.0, text=response.output_text, usage=counted)
        error = response.error.message if response.error else f"The background response ended {status}"
        return JobState("failed", error=error)

    def cancel(self, job: dict) -> bool:
        try:
            self.client().responses.cancel(job["id"])
        except openai.OpenAIError:
            return False  # already ended upstream
        return True
