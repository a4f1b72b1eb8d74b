"""The offline demo deep-research model: a long task of many model turns and tool calls at a set pace, so
the long-task runner can be tried (and tested) without a network. Each turn thinks aloud and searches
with the research tool until it has made its steps, then writes up what it found. Deterministic."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass

from asyncinfer.domain.model import Usage
from asyncinfer.domain.requests import ChatRequest
from asyncinfer.providers.base import ChatChunk, Finished, ProviderError, TextDelta, count_tokens
from asyncinfer.providers.demo.chat import demo_answer

RESEARCH_MODEL = "demo-deep-research"
MAX_STEPS = 100
MAX_STEP_SECONDS = 600.0


@dataclass(frozen=True)
class Pace:
    """How many search steps a task makes and how long each model turn streams (seconds)."""

    steps: int = 8
    step_seconds: float = 20.0

    def override(self, request: ChatRequest) -> Pace:
        """A request may set its own pace with a `demo_research` object: {"steps": n, "step_seconds": s}."""
        given = (request.model_extra or {}).get("demo_research")
        if given is None:
            return self
        if not isinstance(given, dict) or set(given) - {"steps", "step_seconds"}:
            raise ProviderError(
                "invalid_request", "demo_research takes an object with `steps` and `step_seconds`", retryable=False
            )
        steps, seconds = given.get("steps", self.steps), given.get("step_seconds", self.step_seconds)
        if not isinstance(steps, int) or isinstance(steps, bool) or not 0 <= steps <= MAX_STEPS:
            raise ProviderError("invalid_request", f"demo_research.steps must be 0..{MAX_STEPS}", retryable=False)
        if not isinstance(seconds, int | float) or isinstance(seconds, bool) or not 0 <= seconds <= MAX_STEP_SECONDS:
            raise ProviderError(
                "invalid_request", f"demo_research.step_seconds must be 0..{MAX_STEP_SECONDS:g}", retryable=False
            )
        return Pace(steps, float(seconds))


def _words_over(text: str, seconds: float) -> Iterator[TextDelta]:
    words = text.split(" ")
    pause = seconds / max(len(words), 1)
    for i, word in enumerate(words):
        if pause:
            time.sleep(pause)
        yield TextDelta(word if i == 0 else " " + word)


def _facet(prompt: str, step: int) -> str:
    aspects = ("background", "recent results", "open questions", "methods", "costs", "risks", "alternatives")
    return f"{aspects[step % len(aspects)]} of {' '.join(prompt.split()[:8])}"


class DemoResearchProvider:
    def __init__(self, pace: Pace = Pace()) -> None:
        self._pace = pace

    def stream_chat(self, upstream_model: str, request: ChatRequest) -> Iterator[ChatChunk]:
        pace = self._pace.override(request)
        prompt = request.last_user_text() or "the question"
        prompt_tokens = sum(count_tokens(m.text()) for m in request.messages)
        found = [m.text() for m in request.messages if m.role == "tool"]
        tools = (request.model_extra or {}).get("tools") or []
        if len(found) < pace.steps and tools:
            step = len(found) + 1
            thought = f"Step {step} of {pace.steps}: I should look into the {_facet(prompt, step)}."
            yield from _words_over(thought, pace.step_seconds)
            digest = hashlib.sha256(f"{prompt}\x00{step}".encode()).hexdigest()[:12]
            function = {"name": tools[0]["function"]["name"], "arguments": json.dumps({"query": _facet(prompt, step)})}
            call = {"id": f"call_{digest}", "type": "function", "function": function}
            tokens = count_tokens(thought)
            usage = Usage(prompt_tokens=prompt_tokens, completion_tokens=tokens, total_tokens=prompt_tokens + tokens)
            yield Finished("tool_calls", usage, [call], steps=pace.steps + 1)  # the searches, then the report
            return
        findings = " ".join(f"({i + 1}) {text}" for i, text in enumerate(found))
        answer = f"Research report after {len(found)} searches. {findings} {demo_answer(request.model, prompt)}"
        yield from _words_over(answer.strip(), pace.step_seconds)
        tokens = count_tokens(answer)
        yield Finished(
            "stop", Usage(prompt_tokens=prompt_tokens, completion_tokens=tokens, total_tokens=prompt_tokens + tokens)
        )
