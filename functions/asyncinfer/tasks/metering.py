"""What a running attempt has produced so far, priced: written with each flush of its event log (the task's
`produced`), it is what a cancel, a deadline or a failure after output charges (asyncinfer.domain.reservations).

A finished model turn counts the usage its provider reported. The turn still streaming counts its prompt
and the text it streamed so far, in whitespace words (asyncinfer.providers.base.count_tokens: the demo
models' own count; for a real provider an estimate, as its stream reports usage only at its end). Media
count each finished file: an image, or its seconds of audio or video."""

from __future__ import annotations

from asyncinfer.domain.catalog import ModelSpec
from asyncinfer.domain.model import Usage
from asyncinfer.domain.requests import ChatRequest
from asyncinfer.providers.base import count_tokens


class Meter:
    def __init__(self, spec: ModelSpec, done: Usage | None = None) -> None:
        self._prices = spec.prices
        self._done = done or Usage()
        self._prompt = 0
        self._parts: list[str] = []
        self.changed = done is not None

    def start_turn(self, request: ChatRequest) -> None:
        self._prompt = sum(count_tokens(message.text()) for message in request.messages)
        self._parts = []
        self.changed = True

    def delta(self, text: str) -> None:
        self._parts.append(text)
        self.changed = True

    def end_turn(self, usage: Usage) -> None:
        """The turn's usage as its provider reported it replaces the estimate."""
        self._done = _sum(self._done, usage)
        self._prompt = 0
        self._parts = []
        self.changed = True

    def output(self, *, images: int = 0, seconds: float = 0.0) -> None:
        self._done = _sum(self._done, Usage(images=images or None, seconds=seconds or None))
        self.changed = True

    def usage(self) -> Usage:
        """All produced so far, with its cost."""
        completion = count_tokens("".join(self._parts))
        current = Usage(
            prompt_tokens=self._prompt, completion_tokens=completion, total_tokens=self._prompt + completion
        )
        total = _sum(self._done, current)
        return total.model_copy(update={"cost": self._prices.cost(total)})

    def take(self) -> Usage | None:
        """The usage to write with a flush: None when nothing changed since the last one."""
        if not self.changed:
            return None
        self.changed = False
        return self.usage()


def _sum(a: Usage, b: Usage) -> Usage:
    return Usage(
        prompt_tokens=a.prompt_tokens + b.prompt_tokens,
        completion_tokens=a.completion_tokens + b.completion_tokens,
        total_tokens=a.total_tokens + b.total_tokens,
        images=(a.images or 0) + (b.images or 0) or None,
        seconds=round((a.seconds or 0) + (b.seconds or 0), 3) or None,
    )
