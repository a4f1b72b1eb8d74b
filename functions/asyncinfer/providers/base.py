"""The provider interface: a model turns a chat request into a stream of deltas and a final usage."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

from asyncinfer.tasks.model import Usage
from asyncinfer.tasks.requests import ChatRequest


@dataclass(frozen=True)
class TextDelta:
    text: str


@dataclass(frozen=True)
class Finished:
    finish_reason: str
    usage: Usage


ChatChunk = TextDelta | Finished


class ProviderError(Exception):
    """A model call failed. Retryable errors (throttling, 5xx, timeouts) go back to the queue."""

    def __init__(self, code: str, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.retryable = retryable


class ChatProvider(Protocol):
    def stream_chat(self, upstream_model: str, request: ChatRequest) -> Iterator[ChatChunk]:
        """Yield TextDelta chunks then exactly one Finished. Closing the iterator aborts the call."""
