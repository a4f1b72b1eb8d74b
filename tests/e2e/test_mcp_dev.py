"""`make dev` shows a tool loop end to end: the demo chat model calls a tool of the docs' example MCP
server, the worker runs it, and the stream shows the call and its result."""

import json

import pytest

from asyncinfer.ops.sse import sse_events
from tests.e2e.conftest import wait_for
from tests.support.mcp_server import RunningMcpServer

pytestmark = pytest.mark.e2e


def test_the_demo_model_uses_an_mcp_tool(stack):
    with RunningMcpServer() as tools, stack.client() as client:
        body = {
            "model": "demo-chat",
            "messages": [{"role": "user", "content": "What is 20 plus 22?"}],
            "mcp_servers": [{"name": "demo", "url": tools.url, "allowed_tools": ["add"]}],
        }
        task_id = client.post("/v1/async", json=body).json()["id"]
        with client.stream("GET", f"/v1/async/{task_id}/events", timeout=30) as response:
            events = list(sse_events(response))
        done = wait_for(lambda: (t := client.get(f"/v1/async/{task_id}").json())["status"] == "COMPLETED" and t)
    kinds = [e.get("event") for e in events]
    assert kinds.index("tool_call") < kinds.index("tool_result") < kinds.index("delta")
    call = json.loads(events[kinds.index("tool_call")]["data"])
    assert call["name"] == "demo__add" and json.loads(call["arguments"]) == {"a": 20, "b": 22}
    assert json.loads(events[kinds.index("tool_result")]["data"])["content"] == "42"
    message = done["choices"][0]["message"]
    assert message["content"].startswith("Using the tools: [42]")
    assert message["reasoning_steps"][0]["mcp_tool_call"]["result"] == "42"
