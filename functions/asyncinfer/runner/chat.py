"""A chat task on the runner: each model turn and each tool call is one step (`tools`, `turn-N`,
`tool-N-i`, `finish`). On replay the conversation is rebuilt from the steps' checkpoints, and usage is
summed from them once. A long text goes to S3 and its key is checkpointed: checkpoints stay small."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from functools import partial
from typing import Any

from asyncinfer.blobs.base import turn_key
from asyncinfer.domain.catalog import ModelSpec
from asyncinfer.domain.model import Progress, Usage, now_ms
from asyncinfer.domain.requests import ChatRequest, McpServer
from asyncinfer.observability import genai
from asyncinfer.providers.base import Finished, ProviderError
from asyncinfer.runner.run import Run
from asyncinfer.runner.steps import RetryStep, StepGaveUp
from asyncinfer.tasks.metering import Meter
from asyncinfer.tasks.tool_loop import STEP_LIMIT, add_usage, reasoning_step, step_progress, tool_call_step, tool_result
from asyncinfer.tasks.topups import reserve_turn
from asyncinfer.tasks.turns import DeadlinePassed, stream_turn
from asyncinfer.tools.base import ToolHost, ToolServerMisbehaved, ToolsUnavailable

# A step result holds at most this much text inline; more goes to S3 (checkpoints are limited to 256 KiB).
INLINE_TEXT_BYTES = 32 * 1024


class ChatSteps:
    def __init__(self, tools_for: Callable[[ModelSpec, list[McpServer]], ToolHost | None]) -> None:
        self._tools_for = tools_for

    def has_tools(self, spec: ModelSpec, request: ChatRequest) -> bool:
        return self._tools_for(spec, request.mcp_servers or []) is not None

    def run(self, run: Run, plan: dict[str, Any]) -> str:
        spec = run.spec(plan)
        seq = plan["seq"]
        body = self._body(run)
        messages: list[dict[str, Any]] = body.get("messages", [])
        tools = list(body.get("tools") or [])
        offered: list[str] = []
        if plan.get("tools"):
            listed = run.step("tools", partial(self._offered, run, spec))
            if "end" in listed:
                return listed["end"]
            tools += listed["tools"]
            offered = [t["function"]["name"] for t in listed["tools"]]
        usage = Usage()
        reasoning: list[dict[str, Any]] = []
        executed: list[dict[str, Any]] = []
        max_steps = run.config.max_steps
        for n in range(max_steps + 1):
            current = {**body, "messages": messages, **({"tools": tools} if tools else {})}
            turn = run.step(f"turn-{n}", partial(self._turn, run, spec, current, seq, f"turn-{n}", usage))
            if "end" in turn:
                return turn["end"]
            seq = turn["seq"]
            usage = add_usage(usage, Usage.model_validate(turn["usage"]))
            text = self._text(run, turn)
            calls = turn.get("tool_calls") or []
            ours = [c for c in calls if c.get("function", {}).get("name") in offered]
            if not ours or len(ours) < len(calls) or n == max_steps:
                reason = STEP_LIMIT if ours and len(ours) == len(calls) else turn["finish_reason"]
                finished = Finished(reason, usage, None if reason == STEP_LIMIT else turn.get("tool_calls"))
                extra = {"reasoning_steps": reasoning, "executed_tool_calls": executed} if reasoning else None
                return run.step("finish", partial(self._finish, run, spec, text, finished, seq, extra))["end"]
            run.pause_if_short(turn, f"turn-{n}")
            messages = [*messages, {"role": "assistant", "content": text or None, "tool_calls": ours}]
            for i, call in enumerate(ours):
                name = f"tool-{n}-{i}"
                # The turn's last call ends a step of the task: its progress is told with it.
                progress = step_progress(n + 1, turn.get("steps"), ours) if i == len(ours) - 1 else None
                result = run.step(name, partial(self._tool, run, spec, call, seq, name, progress))
                if "end" in result:
                    return result["end"]
                seq = result["seq"]
                executed.append(call)
                reasoning.append(reasoning_step(text, result["step"]))
                messages = [
                    *messages,
                    {"role": "tool", "tool_call_id": call.get("id") or name, "content": result["content"]},
                ]
                run.pause_if_short(result, name)
        raise AssertionError("unreachable")  # pragma: no cover

    def _body(self, run: Run) -> dict[str, Any]:
        """The request's body, from which live turns are made; {} once the task is gone (a replay then follows
        its checkpoints, and the next live step finds the task gone and ends)."""
        task = run.worker.store.get(run.tenant, run.task_id)
        if task is None or task.terminal or not task.visible():
            return {}
        return run.request()[1].model_dump(mode="json", exclude_none=True)

    def _offered(self, run: Run, spec: ModelSpec) -> dict[str, Any]:
        _, request = run.request()
        host = self._tools_for(spec, request.mcp_servers or [])
        assert host is not None

        async def listed() -> list[dict[str, Any]]:
            async with host:
                return host.offered()

        return {"tools": _run_tools(listed)}

    def _turn(
        self, run: Run, spec: ModelSpec, body: dict[str, Any], base: int, name: str, done: Usage
    ) -> dict[str, Any]:
        # What the turns before this one used is charged with what this one streams, if the task is stopped.
        log = run.log(base, name, Meter(spec, done))
        task = run.task()
        run.check_deadline()
        worker = run.worker
        if name != "turn-0":  # the submit reserved the first
            reserve_turn(worker.store, task, spec, body, Meter(spec, done).usage())
        provider = worker.provider_for(spec)
        deadline = now_ms() + run.steps.remaining_ms() - run.config.deadline_margin_ms
        deadline = min(deadline, task.finish_by or deadline)
        request = ChatRequest.model_validate(body)
        try:
            provider_name = genai.provider_name(worker.registry, spec)
            text, finished = stream_turn(provider, worker.upstream_for(spec), request, log, deadline, provider_name)
        except DeadlinePassed:
            log.flush_pending()
            run.check_deadline()
            raise RetryStep("timeout", "A model turn did not fit in one invocation of the runner") from None
        log.flush_pending()
        run.seq = log.seq
        result: dict[str, Any] = {
            "seq": log.seq,
            "usage": finished.usage.model_dump(exclude_none=True),
            "finish_reason": finished.finish_reason,
            "tool_calls": finished.tool_calls,
            "steps": finished.steps,
            **run.ends(),
        }
        if len(text.encode()) > INLINE_TEXT_BYTES:
            key = turn_key(task.tenant, task.id, name)
            worker.blobs.put(key, text.encode(), "text/plain; charset=utf-8")
            result["text_key"] = key
        else:
            result["text"] = text
        return result

    def _text(self, run: Run, turn: dict[str, Any]) -> str:
        if "text_key" not in turn:
            return turn.get("text", "")
        body = run.worker.blobs.get(turn["text_key"])
        if body is None:
            raise StepGaveUp("result_missing", "A model turn's stored text is missing")
        return body.decode()

    def _tool(
        self, run: Run, spec: ModelSpec, call: dict[str, Any], base: int, name: str, progress: Progress | None = None
    ) -> dict[str, Any]:
        log = run.log(base, name)
        _, request = run.request()
        function = call.get("function", {})
        tool, arguments = function.get("name", ""), function.get("arguments") or "{}"
        log.add({"type": "tool_call", "id": call.get("id"), "name": tool, "arguments": arguments})
        host = self._tools_for(spec, request.mcp_servers or [])
        assert host is not None
        run.check_deadline()
        left_ms = run.steps.remaining_ms() - run.config.deadline_margin_ms
        if (until := run.until_deadline_ms()) is not None:
            left_ms = min(left_ms, until)
        seconds = max(0.0, left_ms / 1000)

        async def called() -> Any:
            async with host, asyncio.timeout(seconds):
                return await host.call(tool, arguments)

        try:
            with genai.tool_call(tool, call.get("id")) as span:
                outcome = _run_tools(called)
                if outcome.is_error:
                    genai.tool_failed(span)
        except TimeoutError:
            log.flush_pending()
            run.check_deadline()
            raise RetryStep("timeout", "A tool call did not fit in one invocation of the runner") from None
        log.add(tool_result(call, tool, outcome))
        if progress is not None:
            log.add({"type": "progress", **progress.model_dump(exclude_none=True)})
        log.flush()  # the step's events, and the cancellation check
        run.seq = log.seq
        if progress is not None:
            run.worker.record_progress(run.task(), progress)
        return {"seq": log.seq, "content": outcome.content, "step": tool_call_step(outcome), **run.ends()}

    def _finish(
        self, run: Run, spec: ModelSpec, text: str, finished: Finished, seq: int, extra: dict[str, Any] | None
    ) -> dict[str, Any]:
        task = run.task()
        log = run.log(seq, "finish")
        usage = finished.usage.model_copy(update={"cost": spec.prices.cost(finished.usage)})
        if finished.tool_calls:
            log.add({"type": "tool_calls", "tool_calls": finished.tool_calls})
        log.flush_pending()
        outcome = run.worker.complete(
            task, text, Finished(finished.finish_reason, usage, finished.tool_calls), log.seq, extra
        )
        return {"end": outcome.value}


def _run_tools(body: Callable[[], Any]) -> Any:
    """A tool host's async work, from the runner's synchronous step."""
    try:
        return asyncio.run(body())
    except ToolsUnavailable as exc:
        raise ProviderError("mcp_unreachable", str(exc), retryable=False) from None
    except ToolServerMisbehaved as exc:
        raise ProviderError(exc.code, str(exc), retryable=False) from None
