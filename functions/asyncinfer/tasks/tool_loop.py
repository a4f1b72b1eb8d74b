"""The tool loop of a chat task with `mcp_servers`: offer the servers' tools to the model, run the calls
it makes, feed the results back, until it answers or the step limit is reached. Every call is an
event of the task's stream and a reasoning step of its result."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from asyncinfer.domain.model import Progress, Usage, now_ms
from asyncinfer.domain.requests import ChatRequest
from asyncinfer.observability import genai
from asyncinfer.providers.base import Finished, ProviderError
from asyncinfer.tools.base import ToolHost, ToolOutcome, ToolServerMisbehaved, ToolsUnavailable

if TYPE_CHECKING:  # asyncio is imported by the tool loop alone, which most tasks never run
    import asyncio

STEP_LIMIT = "step_limit"


class ToolLoopDeadline(Exception):
    """The task's deadline passed while its tool servers connected or a tool ran."""


Turn = Callable[[ChatRequest], tuple[str, Finished]]


@dataclass
class LoopResult:
    text: str
    finished: Finished
    reasoning_steps: list[dict[str, Any]] = field(default_factory=list)
    executed: list[dict[str, Any]] = field(default_factory=list)


def tool_call_step(outcome: ToolOutcome) -> dict[str, Any]:
    """A tool call as a result's reasoning step shows it (reference 002's `mcp_tool_call`)."""
    return {
        "server": outcome.server,
        "tool": outcome.tool,
        "arguments": json.dumps(outcome.arguments),
        "result": outcome.content,
        "is_error": outcome.is_error,
        "truncated": outcome.truncated,
    }


def step_progress(step: int, steps: int | None, calls: list[dict[str, Any]]) -> Progress:
    """After `step` steps of tool calls: the number of steps is the model's to decide (at most max_steps),
    known only when it tells its plan."""
    names = ", ".join(dict.fromkeys(c["function"]["name"] for c in calls))
    steps = steps if steps is not None and steps >= step else None
    percent = None if steps is None else round(100 * step / steps, 1)
    return Progress(step=step, steps=steps, percent=percent, message=f"called {names}"[:200])


def tool_result(call: dict[str, Any], name: str, outcome: ToolOutcome) -> dict[str, Any]:
    """The `tool_result` event of a call's outcome (the worker's tool loop and the runner's steps emit it)."""
    return dict(type="tool_result", id=call.get("id"), name=name, is_error=outcome.is_error, content=outcome.content)


def reasoning_step(thought: str, call: dict[str, Any]) -> dict[str, Any]:
    return {"thought": thought, "type": "mcp_tool_call", "mcp_tool_call": call}


def add_usage(total: Usage, more: Usage) -> Usage:
    return Usage(
        prompt_tokens=total.prompt_tokens + more.prompt_tokens,
        completion_tokens=total.completion_tokens + more.completion_tokens,
        total_tokens=total.total_tokens + more.total_tokens,
    )


def run_tool_loop(
    host: ToolHost,
    request: ChatRequest,
    turn: Turn,
    emit: Callable[[dict[str, Any]], None],
    heartbeat: Callable[[], None],
    max_steps: int,
    deadline_ms: int,
    on_progress: Callable[[Progress], None] = lambda progress: None,
) -> LoopResult:
    """Synchronous entry for the worker's thread: the MCP SDK is async, the model turns are not. Nothing a
    tool server does may hold the task past `deadline_ms` (epoch ms): not connecting, not a tool call.
    After each step of tool calls, `on_progress` is told the step (a `progress` event is in the stream)."""
    import asyncio

    hooks = _Hooks(turn, emit, heartbeat, max_steps, deadline_ms, on_progress)
    return asyncio.run(_loop(host, request, hooks))


@dataclass(frozen=True)
class _Hooks:
    turn: Turn
    emit: Callable[[dict[str, Any]], None]
    heartbeat: Callable[[], None]
    max_steps: int
    deadline_ms: int
    on_progress: Callable[[Progress], None]

    def timeout(self) -> asyncio.Timeout:
        """A timeout at the task's deadline, in this task (the SDK's contexts must not change tasks)."""
        import asyncio

        return asyncio.timeout(max(0.0, (self.deadline_ms - now_ms()) / 1000))


async def _loop(host: Any, request: ChatRequest, hooks: _Hooks) -> LoopResult:
    try:
        async with hooks.timeout():
            await host.__aenter__()
    except TimeoutError:
        raise ToolLoopDeadline() from None
    except ToolsUnavailable as exc:
        raise ProviderError("mcp_unreachable", str(exc), retryable=False) from None
    except ToolServerMisbehaved as exc:
        raise ProviderError(exc.code, str(exc), retryable=False) from None
    try:
        return await _steps(host, request, hooks)
    except ToolServerMisbehaved as exc:
        raise ProviderError(exc.code, str(exc), retryable=False) from None
    finally:
        await host.__aexit__(None, None, None)


async def _steps(host: ToolHost, request: ChatRequest, hooks: _Hooks) -> LoopResult:
    import asyncio

    turn, emit, heartbeat, max_steps = hooks.turn, hooks.emit, hooks.heartbeat, hooks.max_steps
    body = request.model_dump(mode="json", exclude_none=True)
    messages: list[dict[str, Any]] = body["messages"]
    tools = list(body.get("tools") or []) + host.offered()
    usage = Usage()
    result = LoopResult(text="", finished=Finished("stop", usage))
    for step in range(max_steps + 1):
        current = ChatRequest.model_validate({**body, "messages": messages, "tools": tools})
        text, finished = await asyncio.to_thread(turn, current)
        usage = add_usage(usage, finished.usage)
        calls = finished.tool_calls or []
        ours = [c for c in calls if host.owns(c.get("function", {}).get("name", ""))]
        if not ours or len(ours) < len(calls):
            # An answer, or calls to the client's own tools, which go back to the client.
            result.text, result.finished = text, Finished(finished.finish_reason, usage, finished.tool_calls)
            return result
        if step == max_steps:
            result.text, result.finished = text, Finished(STEP_LIMIT, usage)
            emit({"type": "step_limit", "steps": max_steps})
            return result
        messages.append({"role": "assistant", "content": text or None, "tool_calls": ours})
        for call in ours:
            name, arguments = call["function"]["name"], call["function"].get("arguments") or "{}"
            emit({"type": "tool_call", "id": call.get("id"), "name": name, "arguments": arguments})
            with genai.tool_call(name, call.get("id")) as span:
                try:
                    async with hooks.timeout():
                        outcome = await host.call(name, arguments)
                except TimeoutError:
                    raise ToolLoopDeadline() from None
                if outcome.is_error:
                    genai.tool_failed(span)
            emit(tool_result(call, name, outcome))
            result.executed.append(call)
            result.reasoning_steps.append(reasoning_step(text, tool_call_step(outcome)))
            messages.append({"role": "tool", "tool_call_id": call.get("id") or name, "content": outcome.content})
        progress = step_progress(step + 1, finished.steps, ours)
        emit({"type": "progress", **progress.model_dump(exclude_none=True)})
        await asyncio.to_thread(heartbeat)  # writes the step's events; a cancelled task stops here
        await asyncio.to_thread(hooks.on_progress, progress)
    raise AssertionError("unreachable")  # pragma: no cover
