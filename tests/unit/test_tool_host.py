"""McpToolHost.call's outcomes with a fake session: a server dying mid-task, bad arguments, huge results."""

import asyncio
from types import SimpleNamespace

from asyncinfer.tools.mcp import McpPolicy, McpToolHost, _Server


class Session:
    def __init__(self, answer=None, error=None):
        self.answer, self.error, self.calls = answer, error, []

    async def call_tool(self, name, arguments, read_timeout_seconds=None):
        self.calls.append((name, arguments))
        if self.error:
            raise self.error
        return self.answer


def host(session, **policy):
    h = McpToolHost([], McpPolicy(**policy))
    h._servers["calc"] = _Server("calc", session, {"add": SimpleNamespace(name="add", description="", input_schema={})})
    return h


def result(text, is_error=False):
    return SimpleNamespace(content=[SimpleNamespace(text=text)], is_error=is_error, structured_content=None)


def test_a_server_dying_mid_task_is_an_error_outcome_not_an_exception():
    error = ExceptionGroup("transport", [ConnectionResetError("peer closed")])
    outcome = asyncio.run(host(Session(error=error)).call("calc__add", '{"a": 1}'))
    assert outcome.is_error and "ConnectionResetError: peer closed" in outcome.content


def test_arguments_that_are_not_an_object_are_refused_without_calling():
    session = Session(answer=result("x"))
    outcome = asyncio.run(host(session).call("calc__add", "[1, 2]"))
    assert outcome.is_error and session.calls == []


def test_results_are_cut_at_the_size_limit():
    outcome = asyncio.run(host(Session(answer=result("é" * 1000)), max_result_bytes=300).call("calc__add", "{}"))
    assert outcome.truncated and outcome.content.endswith("[truncated]")
    assert len(outcome.content.removesuffix("\n[truncated]").encode()) <= 300


def test_tool_names_route_to_their_server():
    h = host(Session(answer=result("5")))
    assert h.owns("calc__add") and not h.owns("calc__sub") and not h.owns("other__add")
    assert [t["function"]["name"] for t in h.offered()] == ["calc__add"]
