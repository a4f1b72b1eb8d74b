"""Prompts, outputs, API keys and MCP credentials never reach the logs by default."""

import json
import logging

import pytest

from asyncinfer.tasks.keys import create_key
from tests.conftest import load_event

pytestmark = pytest.mark.integration
PROMPT = "SECRET-PROMPT-7f3a9c"
TOKEN = "SECRET-MCP-TOKEN-55e1"


def test_a_whole_task_logs_no_prompt_key_or_token(aws, capsys, caplog):
    caplog.set_level(logging.INFO)  # the deployed level (POWERTOOLS_LOG_LEVEL=INFO)
    key = create_key(aws.store, "acme")
    auth = load_event("authorizer_request")
    auth["headers"]["Authorization"] = f"Bearer {key}"
    assert aws.functions.invoke("authorizer", auth)["context"] == {"tenant": "acme"}
    body = {
        "model": "demo-chat",
        "messages": [{"role": "user", "content": PROMPT}],
        "mcp_servers": [{"name": "x", "url": "https://mcp.example.com/mcp", "authorization": TOKEN}],
    }
    status, created = aws.api("POST", "/v1/async", body=body, headers={"Authorization": f"Bearer {key}"})
    assert status == 200
    aws.run_worker()  # the MCP server is unreachable: the task fails, and that is logged too
    status, done = aws.api("GET", f"/v1/async/{created['id']}")
    assert done["status"] == "FAILED"
    # A bad request is logged without its body.
    aws.api("POST", "/v1/async", body={**body, "max_tokens": "many"})
    captured = capsys.readouterr()
    # Every record whole (message, extra keys, exception text), and whatever reached the streams.
    logged = captured.out + captured.err + "\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    assert "task processed" in logged and "'outcome': 'failed'" in logged, "the handlers did log"
    for secret in (PROMPT, TOKEN, key, json.dumps(PROMPT)):
        assert secret not in logged
