"""Offline demo models for `make dev` and tests: deterministic, paced, no network."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator

from asyncinfer.providers.base import ChatChunk, Finished, ProviderError, TextDelta
from asyncinfer.tasks.model import Usage
from asyncinfer.tasks.requests import ChatRequest

_SENTENCES = (
    "Asynchronous tasks keep running after the client disconnects.",
    "The worker claims each task with a conditional write, so a duplicate delivery changes nothing.",
    "Partial output is appended to the task's event log in batches while it is generated.",
    "A cancelled task stops generating at the next batch boundary and never completes.",
    "Results are stored before the task is marked completed, so a completed task always has one.",
    "This answer is produced by the offline demo model, which needs no network and no credentials.",
)


# A demo model that always fails, so clients can see (and test) how a failed task reads.
FAILING_MODEL = "demo-fail"


def demo_failure() -> ProviderError:
    return ProviderError("model_error", "The demo-fail model always fails (on purpose)", retryable=False)


def count_tokens(text: str) -> int:
    """Whitespace words: a stable stand-in for a tokenizer."""
    return len(text.split())


def demo_answer(model: str, prompt: str) -> str:
    digest = hashlib.sha256(prompt.encode()).digest()
    start = digest[0] % len(_SENTENCES)
    body = " ".join(_SENTENCES[(start + i) % len(_SENTENCES)] for i in range(len(_SENTENCES)))
    quoted = " ".join(prompt.split()[:24])
    return f'Demo answer from {model} to: "{quoted}". {body}'


class DemoChatProvider:
    """Streams a deterministic answer word by word over `seconds` in total."""

    def __init__(self, seconds: float = 3.0) -> None:
        self._seconds = seconds

    def stream_chat(self, upstream_model: str, request: ChatRequest) -> Iterator[ChatChunk]:
        if upstream_model == FAILING_MODEL:
            raise demo_failure()
        prompt = request.last_user_text()
        words = demo_answer(request.model, prompt).split(" ")
        limit = request.max_tokens or len(words)
        emitted = words[:limit]
        pause = self._seconds / max(len(emitted), 1)
        for i, word in enumerate(emitted):
            if pause:
                time.sleep(pause)
            yield TextDelta(word if i == 0 else " " + word)
        prompt_tokens = sum(count_tokens(m.text()) for m in request.messages)
        yield Finished(
            finish_reason="length" if limit < len(words) else "stop",
            usage=Usage(
                prompt_tokens=prompt_tokens,
                completion_tokens=len(emitted),
                total_tokens=prompt_tokens + len(emitted),
            ),
        )
