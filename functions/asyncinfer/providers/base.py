"""The provider interface: a model turns a chat request into a stream of deltas and a final usage."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from asyncinfer.domain.model import TaskKind, Usage
from asyncinfer.domain.requests import ChatRequest


@dataclass(frozen=True)
class TextDelta:
    text: str


@dataclass(frozen=True)
class Finished:
    finish_reason: str
    usage: Usage
    # OpenAI-shaped: [{"id", "type": "function", "function": {"name", "arguments"}}]
    tool_calls: list[dict[str, Any]] | None = None
    # How many steps (turns) the whole task takes, when the model tells it (its plan): progress shows a percent.
    steps: int | None = None


ChatChunk = TextDelta | Finished


class ProviderError(Exception):
    """A model call failed. Retryable errors (throttling, 5xx, timeouts) go back to the queue."""

    def __init__(self, code: str, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.retryable = retryable


@dataclass(frozen=True)
class MediaFile:
    body: bytes
    content_type: str
    extension: str
    file_type: str  # image | audio | video
    seconds: float | None = None  # audio and video


class MediaProvider(Protocol):
    def generate(self, upstream_model: str, kind: TaskKind, config: dict[str, Any]) -> Iterator[MediaFile]:
        """Yield the files one at a time; the worker stores each and checks for cancellation in between."""


@dataclass(frozen=True)
class JobState:
    """How an upstream job stands. Its outputs are object keys in the deployment's bucket, written there
    by the upstream itself."""

    state: str  # running | completed | failed
    progress: float | None = None  # percent, where the upstream reports it
    outputs: tuple[str, ...] = ()
    error: str | None = None
    # A chat job's answer, once completed.
    text: str | None = None
    usage: Usage | None = None


class JobProvider(Protocol):
    """A model that runs as a job upstream, started once and polled (Bedrock StartAsyncInvoke, OpenAI
    background responses): the long-task runner waits between polls without compute."""

    def start(self, upstream_model: str, kind: TaskKind, config: dict[str, Any], output_uri: str, token: str) -> dict:
        """Start the job, writing its outputs under `output_uri` (s3://bucket/prefix/); `token` makes a
        repeated start the same job. Returns what poll and cancel need (small: it is checkpointed)."""

    def poll(self, job: dict) -> JobState: ...

    def cancel(self, job: dict) -> bool:
        """Cancel upstream; False when the upstream has no way to (Bedrock's async invokes)."""


class ChatProvider(Protocol):
    def stream_chat(self, upstream_model: str, request: ChatRequest) -> Iterator[ChatChunk]:
        """Yield TextDelta chunks then exactly one Finished. Closing the iterator aborts the call."""


@dataclass(frozen=True)
class Embeddings:
    """One vector per input, in input order, and the tokens the inputs took."""

    vectors: list[list[float]]
    prompt_tokens: int


class EmbeddingProvider(Protocol):
    def embed(
        self, upstream_model: str, texts: list[str], dimensions: int | None, user: str | None = None
    ) -> Embeddings:
        """The inputs' vectors, of `dimensions` values each (None: the model's own length). `user` (OpenAI's
        end-user id for abuse monitoring) goes to upstreams that take it."""


def count_tokens(text: str) -> int:
    """Whitespace words: a stable stand-in for a tokenizer (the demo models' usage, and a server's that
    reports none)."""
    return len(text.split())
