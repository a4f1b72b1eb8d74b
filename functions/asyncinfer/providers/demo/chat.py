"""Offline demo models for `make dev` and tests: deterministic, paced, no network."""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from collections.abc import Iterator

from asyncinfer.domain.model import Usage
from asyncinfer.domain.requests import ChatRequest
from asyncinfer.providers.base import ChatChunk, Finished, ProviderError, TextDelta, count_tokens

_SENTENCES = (
    "Asynchronous tasks keep running after the client disconnects.",
    "The worker claims each task with a conditional write, so a duplicate delivery changes nothing.",
    "Partial output is appended to the task's event log in batches while it is generated.",
    "A cancelled task stops generating at the next batch boundary and never completes.",
    "Results are stored before the task is marked completed, so a completed task always has one.",
    "This answer is produced by the offline demo model, which needs no network and no credentials.",
)


FAILING_MODEL = "demo-fail"  # A demo model that always fails, so clients can see (and test) how a failed task reads.


# A demo model that fails the first time it is asked a prompt and answers it afterwards, so a retry of failed
# work (a batch's failed items) can be seen and tested. What it has been asked is kept in this process.
FAIL_ONCE_MODEL = "demo-fail-once"
_asked_once: set[str] = set()
_asked_lock = threading.Lock()


def demo_failure() -> ProviderError:
    return ProviderError("model_error", "The demo-fail model always fails (on purpose)", retryable=False)


def first_time_asked(prompt: str) -> bool:
    digest = hashlib.sha256(prompt.encode()).hexdigest()
    with _asked_lock:
        if digest in _asked_once:
            return False
        _asked_once.add(digest)
        return True


def demo_answer(model: str, prompt: str) -> str:
    start = hashlib.sha256(prompt.encode()).digest()[0] % len(_SENTENCES)
    body = " ".join(_SENTENCES[(start + i) % len(_SENTENCES)] for i in range(len(_SENTENCES)))
    return f'Demo answer from {model} to: "{" ".join(prompt.split()[:24])}". {body}'


def demo_tool_call(tool: dict, prompt: str) -> dict:
    """A call with arguments made up from the tool's schema: numbers from the prompt, text from it."""
    function = tool.get("function", {})
    properties = function.get("parameters", {}).get("properties", {})
    numbers = [int(n) for n in re.findall(r"-?\d+", prompt)] or [2, 3]
    arguments: dict = {}
    for i, (name, schema) in enumerate(properties.items()):
        kind = schema.get("type")
        if kind in ("integer", "number"):
            arguments[name] = numbers[i % len(numbers)]
        else:
            arguments[name] = True if kind == "boolean" else prompt
    digest = hashlib.sha256(f"{function.get('name')}{prompt}".encode()).hexdigest()[:12]
    return {
        "id": f"call_{digest}",
        "type": "function",
        "function": {"name": function.get("name", ""), "arguments": json.dumps(arguments)},
    }


def _tool_results(request: ChatRequest) -> list[str]:
    results = []
    for message in reversed(request.messages):
        if message.role != "tool":
            break
        results.insert(0, f"[{message.text()}]")
    return results


class DemoChatProvider:
    """Streams a deterministic answer word by word over `seconds` in total."""

    def __init__(self, seconds: float = 3.0) -> None:
        self._seconds = seconds

    def stream_chat(self, upstream_model: str, request: ChatRequest) -> Iterator[ChatChunk]:
        if upstream_model == FAILING_MODEL:
            raise demo_failure()
        prompt = request.last_user_text()
        if upstream_model == FAIL_ONCE_MODEL and first_time_asked(prompt):
            raise ProviderError(
                "model_error", "The demo-fail-once model fails a prompt the first time", retryable=False
            )
        prompt_tokens = sum(count_tokens(m.text()) for m in request.messages)
        tools = (request.model_extra or {}).get("tools") or []
        if tools and request.messages[-1].role == "user":
            # Offered tools and not yet used: call the first one, as a tool-using model would.
            usage = Usage(prompt_tokens=prompt_tokens, completion_tokens=1, total_tokens=prompt_tokens + 1)
            yield Finished(finish_reason="tool_calls", usage=usage, tool_calls=[demo_tool_call(tools[0], prompt)])
            return
        answer = demo_answer(request.model, prompt)
        results = _tool_results(request)
        if results:
            answer = "Using the tools: " + " ".join(results) + " " + answer
        words = answer.split(" ")
        limit = request.max_tokens or len(words)
        emitted = words[:limit]
        pause = self._seconds / max(len(emitted), 1)
        for i, word in enumerate(emitted):
            if pause:
                time.sleep(pause)
            yield TextDelta(word if i == 0 else " " + word)
        yield Finished(
            finish_reason="length" if limit < len(words) else "stop",
            usage=Usage(
                prompt_tokens=prompt_tokens,
                completion_tokens=len(emitted),
                total_tokens=prompt_tokens + len(emitted),
            ),
        )
