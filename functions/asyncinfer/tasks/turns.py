"""One model turn of a chat task, streamed into its event log: the worker's turns, and each turn step of
the long-task runner."""

from __future__ import annotations

from typing import Any, Protocol

from asyncinfer.domain.model import now_ms
from asyncinfer.domain.requests import ChatRequest
from asyncinfer.observability import genai
from asyncinfer.providers.base import Finished, ProviderError, TextDelta
from asyncinfer.tasks.metering import Meter


class DeadlinePassed(Exception):
    """The per-task deadline passed during a model turn."""


class TurnLog(Protocol):
    """Where a turn writes: the attempt's event log (event_log.EventLog), or a runner step's that runs again."""

    @property
    def meter(self) -> Meter | None: ...

    def add(self, event: dict[str, Any]) -> None: ...

    def due(self) -> bool: ...

    def flush(self) -> None: ...


def stream_turn(
    provider: Any, upstream: str, request: ChatRequest, log_: TurnLog, deadline: int, provider_name: str | None = None
) -> tuple[str, Finished]:
    """One model turn: deltas into the event log as they come, flushed on time (and metered). Its span,
    "chat {upstream}", is under the current one (the task's run); `provider_name` is its `gen_ai.provider.name`."""
    with genai.model_call(genai.CHAT, upstream, provider_name) as span:
        text, finished = _stream(provider, upstream, request, log_, deadline)
        genai.answered(span, finished.usage, [finished.finish_reason])
    return text, finished


def _stream(provider: Any, upstream: str, request: ChatRequest, log_: TurnLog, deadline: int) -> tuple[str, Finished]:
    parts: list[str] = []
    finished: Finished | None = None
    meter = log_.meter
    if meter is not None:
        meter.start_turn(request)
    stream = provider.stream_chat(upstream, request)
    try:
        for chunk in stream:
            if isinstance(chunk, TextDelta):
                parts.append(chunk.text)
                log_.add({"type": "delta", "text": chunk.text})
                if meter is not None:
                    meter.delta(chunk.text)
            else:
                finished = chunk
                if meter is not None:
                    meter.end_turn(chunk.usage)
            if now_ms() > deadline:
                raise DeadlinePassed()
            if log_.due():
                log_.flush()
    finally:
        stream.close()  # aborts the upstream call when we stop early
    if finished is None:
        raise ProviderError("provider_error", "The model stream ended without a final chunk", retryable=True)
    return "".join(parts), finished
