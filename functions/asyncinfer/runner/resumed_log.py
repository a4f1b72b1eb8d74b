"""The event log of a long task's step that runs again after an interruption: what its first run wrote is
not written twice (asyncinfer.tasks.event_log writes the events)."""

from __future__ import annotations

from typing import Any

from asyncinfer.tasks.event_log import EventLog
from asyncinfer.tasks.metering import Meter


class ResumedLog:
    """The event log of a step that runs again after an interruption (a crash, a timed-out invocation): the events its
    first run already wrote are not written twice. While the new run says what the first one said (a deterministic
    model, a replayed tool), its events are swallowed until it goes past them; if it says something else, a `restart`
    event tells readers to drop the step's earlier output, and the new run is written whole after it."""

    def __init__(self, log: EventLog, written: list[dict[str, Any]], step: str) -> None:
        self._log = log
        self._step = step
        self._script = _script(written)
        self._said: list[dict[str, Any]] = []  # this run's events while they match the script
        self._matching = True

    @property
    def seq(self) -> int:
        return self._log.seq

    @property
    def meter(self) -> Meter | None:
        return self._log.meter

    def add(self, event: dict[str, Any]) -> None:
        if not self._matching:
            self._log.add(event)
            return
        self._said.append(dict(event))
        said = _script(self._said)
        if _is_prefix(said, self._script):
            return
        self._matching = False
        if _is_prefix(self._script, said):
            for item in _beyond(self._script, said):
                self._log.add(item)
            return
        self._log.add({"type": "restart", "step": self._step, "reason": "the step ran again and said otherwise"})
        for item in self._said:
            self._log.add(item)

    def due(self) -> bool:
        return self._log.due()

    def flush(self) -> None:
        self._log.flush()

    def flush_pending(self) -> None:
        self._log.flush_pending()


def _script(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Events as a reader sees them: consecutive deltas as one text, however they were batched."""
    out: list[dict[str, Any]] = []
    for event in events:
        event = {k: v for k, v in event.items() if k != "seq"}
        if event.get("type") == "delta" and out and out[-1].get("type") == "delta":
            out[-1] = {"type": "delta", "text": out[-1]["text"] + event.get("text", "")}
        else:
            out.append(event)
    return out


def _is_prefix(short: list[dict[str, Any]], long: list[dict[str, Any]]) -> bool:
    if len(short) > len(long):
        return False
    for i, item in enumerate(short):
        other = long[i]
        if item == other:
            continue
        last = i == len(short) - 1
        deltas = item.get("type") == "delta" == other.get("type")
        if not (last and deltas and other["text"].startswith(item["text"])):
            return False
    return True


def _beyond(written: list[dict[str, Any]], said: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What `said` adds after `written`, of which it is an extension."""
    if not written:
        return said
    last = len(written) - 1
    tail = said[last]
    extra: list[dict[str, Any]] = []
    if tail.get("type") == "delta" and tail != written[last]:
        extra.append({"type": "delta", "text": tail["text"][len(written[last]["text"]) :]})
    return extra + said[last + 1 :]
