"""Embeddings from any OpenAI-compatible server: `embeddings.create` through the official SDK's client."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import openai

from asyncinfer.providers.base import Embeddings, ProviderError, count_tokens
from asyncinfer.providers.openai_provider import classify


class OpenAIEmbedder:
    def __init__(self, client_factory: Callable[[], openai.OpenAI]) -> None:
        # Built on first use: the key may come from Secrets Manager, which a task that never runs need not read.
        self._factory = client_factory
        self._client: openai.OpenAI | None = None

    @property
    def client(self) -> openai.OpenAI:
        if self._client is None:
            self._client = self._factory()
        return self._client

    def embed(
        self, upstream_model: str, texts: list[str], dimensions: int | None, user: str | None = None
    ) -> Embeddings:
        # Floats always: the answer's encoding_format (float or base64) is applied once, for every provider
        # alike, when the task's result is written. `dimensions` only when asked: older models refuse it.
        params: dict[str, Any] = {"model": upstream_model, "input": texts, "encoding_format": "float"}
        if dimensions is not None:
            params["dimensions"] = dimensions
        if user is not None:
            params["user"] = user
        try:
            response = self.client.embeddings.create(**params)
        except openai.OpenAIError as exc:
            raise classify(exc) from exc
        ordered = sorted(response.data, key=lambda item: item.index)
        if len(ordered) != len(texts):
            raise ProviderError(
                "provider_error", f"{len(ordered)} embeddings came back for {len(texts)} inputs", retryable=True
            )
        usage = response.usage
        tokens = usage.prompt_tokens if usage is not None else sum(count_tokens(t) for t in texts)
        return Embeddings(vectors=[list(item.embedding) for item in ordered], prompt_tokens=tokens)
