"""A chat task's event log as OpenAI's Responses streaming events, each with its `sequence_number`.

The numbering is a function of the stored log alone, so a stream resumed with `starting_after=k` is the same
stream from the start with the first k+1 events left out: `response.created` is 0, `response.in_progress` 1
(sent once the task has started), then the output items' events as the log's deltas and tool steps make them,
then the terminal event (`response.completed`, `response.incomplete` or `response.failed`; a cancelled response's
stream just ends, as the SDK knows no terminal event for it: retrieve it to read `cancelled`)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from asyncinfer.domain import response_items, responses
from asyncinfer.domain.lanes import Standing
from asyncinfer.domain.model import Task, TaskStatus
from asyncinfer.tasks.streaming import sse

SEPARATOR = "__"  # an MCP tool's name as offered to the model: <server>__<tool> (asyncinfer.tools.mcp)
ResultOf = Callable[[Task], dict[str, Any] | None]  # an ended task's stored result (its chat completion)


class ResponseFrames:
    """Frames for asyncinfer.tasks.streaming.EventTail; `start` is sent before the tail's first frame."""

    def __init__(
        self, task: Task, request: dict[str, Any] | None, result_of: ResultOf, starting_after: int = -1
    ) -> None:
        self._task = task
        self._request = request
        self._result_of = result_of
        self._after = starting_after
        self._seq = -1
        self._started = False
        self._items: list[dict[str, Any]] = []
        self._text: str | None = None  # the open message's text so far (None: no message open)
        self._calls: dict[str, int] = {}  # a tool call's id -> its output index

    def _emit(self, kind: str, **fields: Any) -> bytes:
        self._seq += 1
        if self._seq <= self._after:
            return b""
        data = {"type": kind, "sequence_number": self._seq, **fields}
        return sse(json.dumps(data, separators=(",", ":"), ensure_ascii=False), event=kind)

    def _response(self, task: Task, status: str | None = None) -> dict[str, Any]:
        out = responses.response_object(task, self._request, None, output=[dict(item) for item in self._items])
        return {**out, "status": status} if status else out

    def start(self) -> bytes:
        return self._emit("response.created", response=self._response(self._task, "queued"))

    def _begin(self, task: Task) -> bytes:
        if self._started:
            return b""
        self._started = True
        return self._emit("response.in_progress", response=self._response(task, "in_progress"))

    def status(self, task: Task, standing: Standing | None) -> bytes | None:
        return (self._begin(task) or None) if task.started_at is not None else None

    def event(self, seq: int, event: dict[str, Any]) -> bytes | None:
        kind = event.get("type")
        out = self._begin(self._task)
        if kind == "delta":
            out += self._delta(event.get("text") or "")
        elif kind == "tool_call":
            out += self._close_message() + self._call(event)
        elif kind == "tool_result":
            out += self._result(event)
        elif kind == "restart":
            out += self._close_message("incomplete")  # a retried attempt starts its answer over, in a new item
        return out or None

    def _delta(self, text: str) -> bytes:
        out = b""
        if self._text is None:
            self._text = ""
            index = len(self._items)
            item = response_items.message_item(self._task.id, index, "", "in_progress")
            self._items.append(item)
            out += self._emit("response.output_item.added", output_index=index, item=item)
            out += self._emit(
                "response.content_part.added",
                item_id=item["id"],
                output_index=index,
                content_index=0,
                part=_part(""),
            )
        self._text += text
        index = len(self._items) - 1
        ids = {"item_id": self._items[index]["id"], "output_index": index, "content_index": 0}
        return out + self._emit("response.output_text.delta", **ids, delta=text, logprobs=[])

    def _close_message(self, status: str = "completed") -> bytes:
        if self._text is None:
            return b""
        text, self._text = self._text, None
        index = len(self._items) - 1
        item = self._items[index] = response_items.message_item(self._task.id, index, text, status)
        ids = {"item_id": item["id"], "output_index": index, "content_index": 0}
        out = self._emit("response.output_text.done", **ids, text=text, logprobs=[])
        out += self._emit("response.content_part.done", **ids, part=_part(text))
        return out + self._emit("response.output_item.done", output_index=index, item=item)

    def _call(self, event: dict[str, Any]) -> bytes:
        server, _, tool = str(event.get("name") or "").partition(SEPARATOR)
        index = len(self._items)
        self._calls[str(event.get("id"))] = index
        item = response_items.mcp_call_item(self._task.id, index, server, tool, event.get("arguments") or "{}")
        self._items.append(item)
        out = self._emit("response.output_item.added", output_index=index, item=item)
        return out + self._emit("response.mcp_call.in_progress", item_id=item["id"], output_index=index)

    def _result(self, event: dict[str, Any]) -> bytes:
        index = self._calls.get(str(event.get("id")))
        if index is None:
            return b""
        call = self._items[index]
        ended = {"output": event.get("content"), "is_error": event.get("is_error")}
        item = self._items[index] = response_items.mcp_call_item(
            self._task.id, index, call["server_label"], call["name"], call["arguments"], **ended
        )
        kind = "response.mcp_call.failed" if item["status"] == "failed" else "response.mcp_call.completed"
        out = self._emit(kind, item_id=item["id"], output_index=index)
        return out + self._emit("response.output_item.done", output_index=index, item=item)

    def end(self, task: Task) -> bytes:
        out = self._begin(task) if task.started_at is not None else b""
        out += self._close_message("completed" if task.status == TaskStatus.COMPLETED else "incomplete")
        if task.status == TaskStatus.CANCELLED:
            return out
        response = responses.response_object(task, self._request, self._result_of(task))
        kind = {"completed": "response.completed", "incomplete": "response.incomplete"}.get(response["status"])
        return out + self._emit(kind or "response.failed", response=response)


def _part(text: str) -> dict[str, Any]:
    return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}
