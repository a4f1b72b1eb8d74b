"""Embeddings on Bedrock through InvokeModel, in each family's own body:

- Amazon Titan Text Embeddings V2 (amazon.titan-embed-text-v2:0): one text per call,
  `{"inputText", "dimensions", "normalize"}` -> `{"embedding", "inputTextTokenCount"}`
  (https://docs.aws.amazon.com/bedrock/latest/userguide/model-parameters-titan-embed-text.html);
- Cohere Embed v3 (cohere.embed-english-v3, cohere.embed-multilingual-v3): up to 96 texts per call,
  `{"texts", "input_type"}` -> `{"embeddings": [[...]], ...}`, or `{"embeddings": {"float": [[...]]}}` when
  `embedding_types` was sent (https://docs.aws.amazon.com/bedrock/latest/userguide/model-parameters-embed-v3.html).
  Its body reports no token count; Bedrock's `X-Amzn-Bedrock-Input-Token-Count` response header does."""

from __future__ import annotations

from typing import Any

from asyncinfer.providers.base import Embeddings, ProviderError, count_tokens
from asyncinfer.providers.bedrock_provider import invoke_json

TITAN_V2 = "amazon.titan-embed-text-v2"
COHERE = "cohere.embed-"
COHERE_TEXTS_PER_CALL = 96
TOKEN_HEADER = "x-amzn-bedrock-input-token-count"


class BedrockEmbedder:
    def __init__(self, client: Any) -> None:
        self._client = client

    def embed(
        self, upstream_model: str, texts: list[str], dimensions: int | None, user: str | None = None
    ) -> Embeddings:
        if upstream_model.startswith(TITAN_V2):
            return self._titan(upstream_model, texts, dimensions)
        if upstream_model.startswith(COHERE):
            return self._cohere(upstream_model, texts, dimensions)
        raise ProviderError(
            "unsupported_model",
            f"The bedrock provider embeds with Titan Text Embeddings V2 and Cohere Embed v3, not {upstream_model}",
            retryable=False,
        )

    def _titan(self, upstream_model: str, texts: list[str], dimensions: int | None) -> Embeddings:
        vectors: list[list[float]] = []
        tokens = 0
        for text in texts:
            body: dict[str, Any] = {"inputText": text}
            if dimensions is not None:
                body["dimensions"] = dimensions
            body["normalize"] = True
            answer, _ = self._invoke(upstream_model, body)
            vectors.append([float(v) for v in answer["embedding"]])
            tokens += int(answer.get("inputTextTokenCount") or count_tokens(text))
        return Embeddings(vectors=vectors, prompt_tokens=tokens)

    def _cohere(self, upstream_model: str, texts: list[str], dimensions: int | None) -> Embeddings:
        if dimensions is not None and dimensions != 1024:
            raise ProviderError(
                "invalid_request", f"{upstream_model} gives 1024 dimensions, not {dimensions}", retryable=False
            )
        vectors: list[list[float]] = []
        tokens = 0
        for start in range(0, len(texts), COHERE_TEXTS_PER_CALL):
            chunk = texts[start : start + COHERE_TEXTS_PER_CALL]
            answer, headers = self._invoke(upstream_model, {"texts": chunk, "input_type": "search_document"})
            found = answer.get("embeddings")
            if isinstance(found, dict):  # embeddings_by_type
                found = found.get("float")
            if not isinstance(found, list) or len(found) != len(chunk):
                raise ProviderError(
                    "provider_error", "Cohere Embed answered without one vector per text", retryable=True
                )
            vectors.extend([float(v) for v in vector] for vector in found)
            counted = headers.get(TOKEN_HEADER)
            tokens += int(counted) if counted else sum(count_tokens(text) for text in chunk)
        return Embeddings(vectors=vectors, prompt_tokens=tokens)

    def _invoke(self, upstream_model: str, body: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
        return invoke_json(self._client, upstream_model, body)
