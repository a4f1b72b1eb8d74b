"""An embedding task on the worker: its inputs embedded in one provider call, the answer stored as OpenAI's
embeddings response, its input tokens metered and charged as any task's usage."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from asyncinfer.domain.catalog import ModelRegistry, ModelSpec
from asyncinfer.domain.embeddings import embeddings_response, parse_embedding
from asyncinfer.domain.errors import InvalidRequest
from asyncinfer.domain.model import Task, Usage
from asyncinfer.observability import genai
from asyncinfer.providers.base import ChatProvider, EmbeddingProvider, MediaProvider, ProviderError
from asyncinfer.tasks.event_log import EventLog
from asyncinfer.tasks.metering import Meter
from asyncinfer.tasks.outcomes import Outcome


class Host(Protocol):
    """What an embedding task takes of the worker that runs it (asyncinfer.tasks.worker.Worker)."""

    registry: ModelRegistry
    provider_for: Callable[[ModelSpec], ChatProvider | MediaProvider | EmbeddingProvider]
    upstream_for: Callable[[ModelSpec], str]

    def stored_request(self, task: Task) -> dict[str, Any]: ...

    def event_log(self, task: Task, remaining_ms: Callable[[], int], meter: Meter) -> EventLog: ...

    def complete_with(self, task: Task, result: dict[str, Any], usage: Usage, seq: int, now: int = 0) -> Outcome: ...


def run_embedding(worker: Host, task: Task, spec: ModelSpec, remaining_ms: Callable[[], int]) -> Outcome:
    try:
        request = parse_embedding(worker.stored_request(task))
    except InvalidRequest as exc:
        raise ProviderError("invalid_request", exc.message, retryable=False) from None
    log_ = worker.event_log(task, remaining_ms, meter := Meter(spec))
    provider = worker.provider_for(spec)
    assert hasattr(provider, "embed"), f"{spec.provider} serves no embeddings"
    texts = request.texts()
    upstream = worker.upstream_for(spec)
    with genai.model_call(genai.EMBEDDINGS, upstream, genai.provider_name(worker.registry, spec)) as span:
        found = provider.embed(upstream, texts, request.dimensions, request.user)
        span.set_attribute(genai.GEN_AI.GEN_AI_USAGE_INPUT_TOKENS, found.prompt_tokens)
    size = request.dimensions or spec.dimensions
    if len(found.vectors) != len(texts) or any(len(vector) != size for vector in found.vectors):
        raise ProviderError(
            "provider_error", f"The model did not give one vector of {size} values per input", retryable=False
        )
    tokens = found.prompt_tokens
    usage = Usage(prompt_tokens=tokens, total_tokens=tokens)
    meter.end_turn(usage)
    log_.add({"type": "embeddings", "count": len(texts), "dimensions": size})
    log_.flush_pending()
    result = embeddings_response(task.model, found.vectors, tokens, request.encoding_format)
    return worker.complete_with(task, result, usage.model_copy(update={"cost": spec.prices.cost(usage)}), log_.seq)
