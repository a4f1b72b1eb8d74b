"""Chat tasks with `mcp_servers`: a real MCP server (the official SDK's), a scripted OpenAI-compatible
model that calls its tools, and the real worker running the loop."""

import contextlib
import json
import socket
import threading
import time
import tracemalloc
from decimal import Decimal
from urllib.parse import urlsplit

import pytest

from asyncinfer.domain.budgets import Budget
from asyncinfer.domain.ids import parse_any
from asyncinfer.domain.model import TaskStatus
from asyncinfer.handlers import shared, worker
from asyncinfer.store.codec import task_to_item
from infra.local.functions import LocalFunctions
from tests.support.hostile_mcp import HostileMcpServer
from tests.support.mcp_server import RunningMcpServer, free_url
from tests.support.models_file import serve_models
from tests.support.webhook_receiver import WebhookReceiver

pytestmark = pytest.mark.integration


@pytest.fixture
def stack(aws, model_server, tmp_path, monkeypatch):
    registry = {
        "version": 1,
        "providers": {"compat": {"type": "openai", "base_url": model_server.base_url, "max_retries": 0}},
        "models": {
            **{
                name: {"provider": "compat", "upstream": name, "kind": "chat"}
                for name in ("tool-loop", "tool-error", "tool-forever")
            },
            "priced-loop": {"provider": "compat", "upstream": "tool-loop", "kind": "chat", "prices": PRICES},
        },
    }
    serve_models(registry, tmp_path, monkeypatch)
    monkeypatch.setenv("ASYNCINFER_MCP_ALLOW_PRIVATE", "true")  # the test servers are on 127.0.0.1
    monkeypatch.setenv("ASYNCINFER_MCP_MAX_STEPS", "3")
    shared.service.cache_clear()
    worker.runtime.cache_clear()
    return aws


PRICES = {"input_per_million": 3.0, "output_per_million": 15.0}


def run(aws, model, servers):
    body = {
        "model": model,
        "messages": [{"role": "user", "content": "Add 2 and 3, and the weather?"}],
        "mcp_servers": servers,
    }
    status, created = aws.api("POST", "/v1/async", body=body)
    assert status == 200, created
    aws.run_worker()
    task = aws.store.get("acme", parse_any(created["id"]))
    return task, aws.store.read_events("acme", task.id)


def test_the_model_uses_two_tools_and_answers_with_their_results(stack, tools, model_server):
    task, events = run(stack, "tool-loop", [{"name": "calc", "url": tools.url, "authorization": "t0ken"}])
    assert task.status == TaskStatus.COMPLETED, task.error
    message = task.result["choices"][0]["message"]
    assert message["content"] == "Tool results: 5 | Paris: 18 C and sunny"
    steps = message["reasoning_steps"]
    assert [
        (s["mcp_tool_call"]["tool"], s["mcp_tool_call"]["result"], s["mcp_tool_call"]["is_error"]) for s in steps
    ] == [
        ("add", "5", False),
        ("lookup", "Paris: 18 C and sunny", False),
    ]
    assert all(s["type"] == "mcp_tool_call" and s["thought"] == "Let me use the tools." for s in steps)
    assert [c["function"]["name"] for c in message["tool_calls"]] == ["calc__add", "calc__lookup"]
    assert task.result["choices"][0]["finish_reason"] == "stop"
    # Both model turns are billed.
    assert task.usage.prompt_tokens == 24 and task.usage.completion_tokens == 12
    kinds = [e["type"] for e in events]
    assert kinds.count("tool_call") == 2 and kinds.count("tool_result") == 2
    assert kinds.index("tool_result") < max(i for i, k in enumerate(kinds) if k == "delta")
    # The model saw the tools under the server's name, and the results as tool messages.
    first, second = [r for r in model_server.recorded.requests if r.get("model") == "tool-loop"][-2:]
    assert {t["function"]["name"] for t in first["tools"]} == {"calc__add", "calc__lookup", "calc__explode"}
    assert "mcp_servers" not in first
    assert [m["role"] for m in second["messages"]] == ["user", "assistant", "tool", "tool"]


def test_the_sse_transport_works_too(stack):
    with RunningMcpServer(sse=True) as sse_tools:
        task, _ = run(stack, "tool-loop", [{"name": "calc", "url": sse_tools.url, "transport": "sse"}])
    assert task.status == TaskStatus.COMPLETED, task.error
    assert task.result["choices"][0]["message"]["content"] == "Tool results: 5 | Paris: 18 C and sunny"


def test_allowed_tools_limit_what_the_model_sees(stack, tools, model_server):
    task, _ = run(stack, "tool-loop", [{"name": "calc", "url": tools.url, "allowed_tools": ["add", "lookup"]}])
    assert task.status == TaskStatus.COMPLETED
    sent = [r for r in model_server.recorded.requests if r.get("model") == "tool-loop"][-2]
    assert {t["function"]["name"] for t in sent["tools"]} == {"calc__add", "calc__lookup"}


def test_a_tool_error_is_recorded_and_shown_to_the_model(stack, tools):
    task, events = run(stack, "tool-error", [{"name": "calc", "url": tools.url}])
    assert task.status == TaskStatus.COMPLETED
    (step,) = task.result["choices"][0]["message"]["reasoning_steps"]
    assert step["mcp_tool_call"]["is_error"] is True and "explode" in step["mcp_tool_call"]["result"]
    assert task.result["choices"][0]["message"]["content"] == "Tool results: " + step["mcp_tool_call"]["result"]
    (result_event,) = [e for e in events if e["type"] == "tool_result"]
    assert result_event["is_error"] is True


def test_a_server_down_at_start_fails_the_task_clearly(stack):
    url = free_url()
    task, _ = run(stack, "tool-loop", [{"name": "gone", "url": url + "?token=secret"}])
    assert task.status == TaskStatus.FAILED
    assert task.error.code == "mcp_unreachable"
    # The server, its URL (without the query, which may hold a credential) and the connect error: it used to
    # read "CancelledError: Cancelled via cancel scope 7f3e…".
    assert task.error.message == f"MCP server 'gone': {url}: ConnectError: All connection attempts failed"
    assert stack.queue_depth() == 0  # failed for good, not retried


def test_the_step_limit_ends_the_loop_with_what_was_done(stack, tools):
    task, events = run(stack, "tool-forever", [{"name": "calc", "url": tools.url}])
    assert task.status == TaskStatus.COMPLETED
    choice = task.result["choices"][0]
    assert choice["finish_reason"] == "step_limit"
    assert len(choice["message"]["reasoning_steps"]) == 3
    assert [{k: v for k, v in e.items() if k != "seq"} for e in events if e["type"] == "step_limit"] == [
        {"type": "step_limit", "steps": 3}
    ]
    assert len([e for e in events if e["type"] == "tool_result"]) == 3


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://[fd00:ec2::254]/",
        "http://metadata.google.internal/mcp",
        "file:///etc/passwd",
    ],
)
def test_metadata_and_non_http_urls_are_refused_at_submit(stack, url):
    body = {"model": "tool-loop", "messages": [{"role": "user", "content": "hi"}], "mcp_servers": [{"url": url}]}
    status, error = stack.api("POST", "/v1/async", body=body)
    assert status == 400 and error["error"]["message"].startswith("mcp_servers.0.url")
    assert stack.queue_depth() == 0


def test_private_addresses_are_refused_in_the_worker_unless_allowed(stack, tools, monkeypatch):
    shared.service()  # the API accepted these tasks under a policy that allowed private servers
    monkeypatch.setenv("ASYNCINFER_MCP_ALLOW_PRIVATE", "false")
    worker.runtime.cache_clear()
    task, _ = run(stack, "tool-loop", [{"name": "calc", "url": tools.url}])
    assert task.status == TaskStatus.FAILED and task.error.code == "mcp_unreachable"
    assert "private address" in task.error.message
    monkeypatch.setenv("ASYNCINFER_MCP_ALLOWED_HOSTS", '["127.0.0.1/32"]')
    worker.runtime.cache_clear()
    task, _ = run(stack, "tool-loop", [{"name": "calc", "url": tools.url}])
    assert task.status == TaskStatus.COMPLETED


@pytest.mark.parametrize("spelling", ["[::ffff:127.0.0.1]", "[64:ff9b::7f00:1]", "0x7f000001"])
def test_an_mcp_server_at_a_loopback_address_in_any_spelling_is_refused_and_never_reached(stack, monkeypatch, spelling):
    """A canary on loopback stands where the MCP server would be: nothing may reach it, least of all the
    tenant's bearer token."""
    monkeypatch.setenv("ASYNCINFER_MCP_ALLOW_PRIVATE", "false")
    shared.service.cache_clear()
    worker.runtime.cache_clear()
    with WebhookReceiver() as canary:
        server = {"name": "calc", "url": canary.url.replace("127.0.0.1", spelling), "authorization": "tenant-token"}
        body = {"model": "tool-loop", "messages": [{"role": "user", "content": "hi"}], "mcp_servers": [server]}
        status, error = stack.api("POST", "/v1/async", body=body)
        assert status == 400 and error["error"]["message"].startswith("mcp_servers.0.url"), error
        assert stack.queue_depth() == 0
        # Accepted while private servers were allowed, then run under the deployment's policy.
        monkeypatch.setenv("ASYNCINFER_MCP_ALLOW_PRIVATE", "true")
        shared.service.cache_clear()
        status, created = stack.api("POST", "/v1/async", body=body)
        assert status == 200, created
        monkeypatch.setenv("ASYNCINFER_MCP_ALLOW_PRIVATE", "false")
        worker.runtime.cache_clear()
        stack.run_worker()
        assert canary.received == []
    task = stack.store.get("acme", parse_any(created["id"]))
    assert task.status == TaskStatus.FAILED and task.error.code == "mcp_unreachable"
    assert "private address" in task.error.message


WORKER_TIMEOUT = 15  # seconds; with a 3 s margin, each task's deadline is 12 s after the batch arrives
HOSTILE = {
    # what the server does, how many such servers the task names, the code its task must fail with
    "huge result": ({"result_bytes": 100 * 2**20}, 1, "mcp_response_too_large"),
    "slow connect": ({"connect_delay": 4}, 10, "timeout"),  # each under the 10 s connect bound, 40 s in all
    "slow tool": ({"call_delay": 30}, 1, "timeout"),  # under the 30 s call bound, past the deadline
}


def submit(aws, model, servers) -> str:
    body = {"model": model, "messages": [{"role": "user", "content": "Use the tools."}], "mcp_servers": servers}
    status, created = aws.api("POST", "/v1/async", body=body)
    assert status == 200, created
    return parse_any(created["id"])


@pytest.mark.parametrize("kind", HOSTILE)
def test_a_hostile_mcp_server_fails_only_its_own_task_in_time_and_in_bounded_memory(stack, tools, monkeypatch, kind):
    """One hostile server's task and nine normal ones arrive in one SQS batch, so one worker invocation
    (shared, as on AWS) runs them all: the nine complete, the hostile one fails with a clear code, the
    invocation ends before the function's timeout, and the worker's memory stays bounded."""
    behaviour, count, code = HOSTILE[kind]
    monkeypatch.setenv("ASYNCINFER_DEADLINE_MARGIN_SECONDS", "3")
    worker.runtime.cache_clear()
    stack.functions = LocalFunctions(timeouts={"worker": WORKER_TIMEOUT})
    normal = [submit(stack, "tool-loop", [{"name": "calc", "url": tools.url}]) for _ in range(9)]
    with contextlib.ExitStack() as servers:
        hostile = [servers.enter_context(HostileMcpServer(**behaviour)) for _ in range(count)]
        bad = submit(stack, "tool-error", [{"name": f"h{i}", "url": h.url} for i, h in enumerate(hostile)])
        tracemalloc.start()
        started = time.monotonic()
        assert stack.run_worker(max_batches=1) == 10  # all ten in one invocation
        elapsed = time.monotonic() - started
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    print(f"{kind}: the invocation took {elapsed:.1f} s, traced memory peaked at {peak / 2**20:.1f} MiB")
    ended = {task_id: stack.store.get("acme", task_id) for task_id in [*normal, bad]}
    assert [ended[t].status for t in normal] == [TaskStatus.COMPLETED] * 9
    assert ended[bad].status == TaskStatus.FAILED and ended[bad].error.code == code, ended[bad].error
    assert elapsed < WORKER_TIMEOUT, f"the invocation ran {elapsed:.1f} s, past the function's timeout"
    assert peak < 48 * 2**20, f"the worker's traced memory peaked at {peak / 2**20:.0f} MiB"
    if kind == "huge result":
        assert hostile[0].sent < 16 * 2**20, "the body was read far past the cap"


class Canary:
    """A listener on [::1] that counts the connections it gets: nothing should ever reach it."""

    def __init__(self, port: int) -> None:
        self.connections = 0
        self._sock = socket.socket(socket.AF_INET6)
        self._sock.bind(("::1", port))
        self._sock.listen()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        with contextlib.suppress(OSError):
            while True:
                conn, _ = self._sock.accept()
                self.connections += 1
                conn.close()

    def close(self) -> None:
        self._sock.close()


def test_an_mcp_server_is_connected_to_the_address_that_was_checked_not_a_second_dns_answer(stack, monkeypatch):
    """DNS rebinding: the name answers 127.0.0.1 (allow-listed) when checked, then [::1] (not) when asked
    again. The connection must go to the checked address; DNS is asked once."""
    asked = []
    real = socket.getaddrinfo

    def rebinding(host, *args, **kwargs):
        if host in ("rebind.test", b"rebind.test"):  # anyio asks with the IDNA-encoded bytes
            asked.append(host)
            return real("127.0.0.1" if len(asked) == 1 else "::1", *args, **kwargs)
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    monkeypatch.setenv("ASYNCINFER_MCP_ALLOW_PRIVATE", "false")
    monkeypatch.setenv("ASYNCINFER_MCP_ALLOWED_HOSTS", '["127.0.0.1/32"]')
    shared.service.cache_clear()
    worker.runtime.cache_clear()
    with HostileMcpServer() as server:  # harmless here: it answers at once
        port = urlsplit(server.url).port
        canary = Canary(port)
        try:
            task, _ = run(stack, "tool-error", [{"name": "h", "url": f"http://rebind.test:{port}/mcp"}])
        finally:
            canary.close()
    assert canary.connections == 0
    assert task.status == TaskStatus.COMPLETED, task.error
    assert server.calls == 1
    assert asked == ["rebind.test"]


TOKEN, HEADER = "tok-7f3a-SECRET", "hdr-91c2-SECRET"


def secret_server(url: str) -> dict:
    return {"name": "calc", "url": url, "authorization": TOKEN, "headers": {"X-Api-Key": HEADER}}


def reached_with_credentials(server: RunningMcpServer) -> bool:
    return any(h.get("authorization") == f"Bearer {TOKEN}" and h.get("x-api-key") == HEADER for h in server.headers)


def test_mcp_credentials_are_sealed_at_rest_and_opened_only_to_call_the_server(stack):
    with RunningMcpServer() as server:
        task, _ = run(stack, "tool-loop", [secret_server(server.url)])
        assert task.status == TaskStatus.COMPLETED, task.error
        assert reached_with_credentials(server)
    stored = stack.everything_stored()
    assert TOKEN not in stored and HEADER not in stored
    assert "sealed:v1:" in stored


def test_a_batch_keeps_its_items_mcp_credentials_sealed_in_its_input_and_its_tasks(stack):
    with RunningMcpServer() as server:
        body = {"model": "tool-loop", "messages": [{"role": "user", "content": "Add"}], "mcp_servers": []}
        requests = [
            {"custom_id": f"r{i}", "body": {**body, "mcp_servers": [secret_server(server.url)]}} for i in range(3)
        ]
        status, batch = stack.api("POST", "/v1/batches", body={"requests": requests}, function="api_batches")
        assert status == 200, batch
        while stack.run_queue("batch") + stack.run_worker() + stack.run_notifier():
            pass
        assert reached_with_credentials(server)
    status, done = stack.api("GET", f"/v1/batches/{batch['id']}", function="api_batches")
    assert done["request_counts"]["completed"] == 3, done
    stored = stack.everything_stored()
    assert TOKEN not in stored and HEADER not in stored


def test_a_sealed_credential_copied_into_another_tenants_task_opens_for_nobody(stack):
    with RunningMcpServer() as server:
        task, _ = run(stack, "tool-loop", [secret_server(server.url)])
        server.headers.clear()
        sealed = task.request["mcp_servers"][0]["authorization"]
        body = {
            "model": "tool-loop",
            "messages": [{"role": "user", "content": "Add"}],
            "mcp_servers": [{"name": "calc", "url": server.url}],
        }
        status, created = stack.api("POST", "/v1/async", body=body, tenant="other")
        assert status == 200
        stolen = stack.store.get("other", parse_any(created["id"]))
        # What someone with write access to the table could do: put the sealed token in their own task.
        stolen.request["mcp_servers"][0]["authorization"] = sealed
        stack.ddb.put_item(TableName=stack.resources.table_name, Item=task_to_item(stolen))
        stack.run_worker()
        ended = stack.store.get("other", stolen.id)
        assert ended.status == TaskStatus.FAILED and ended.error.code == "secrets_unavailable"
        assert server.headers == []  # the server was never called with anything


def test_a_tool_loops_progress_advances_step_by_step_on_the_stream_and_on_the_record(stack, tools):
    task, events = run(stack, "tool-forever", [{"name": "calc", "url": tools.url}])
    assert task.status == TaskStatus.COMPLETED
    progress = [e for e in events if e["type"] == "progress"]
    assert [e["step"] for e in progress] == [1, 2, 3]
    assert all(e["message"].startswith("called calc__") for e in progress)
    # Each step's event comes after that step's tool results, and before the next step's calls.
    kinds = [e["type"] for e in events if e["type"] in ("tool_call", "tool_result", "progress")]
    assert kinds == ["tool_call", "tool_result", "progress"] * 3
    # The record (what every GET reads) said each step in turn, as the table's stream shows ...
    written = [
        json.loads(image["progress"]["S"])["step"] for image in stream_images(stack, task.id) if "progress" in image
    ]
    assert sorted(set(written)) == [1, 2, 3] and written == sorted(written)
    # ... and keeps the last one.
    status, read = stack.api("GET", f"/v1/async/{task.id}")
    assert status == 200 and read["progress"] == {"step": 3, "message": progress[-1]["message"]}


def stream_images(aws, task_id: str) -> list[dict]:
    """The new images of the task's item in the table's stream, in order."""
    streams, arn = aws.streams, aws.resources.stream_arn
    images = []
    for shard in streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]:
        iterator = streams.get_shard_iterator(
            StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        while iterator and (page := streams.get_records(ShardIterator=iterator))["Records"]:
            for record in page["Records"]:
                image = record["dynamodb"].get("NewImage") or {}
                if image.get("sk", {}).get("S") == f"task#{task_id}":
                    images.append(image)
            iterator = page.get("NextShardIterator")
    return images


def test_each_further_turn_is_reserved_before_it_starts_and_one_that_does_not_fit_is_not_started(stack, tools):
    """The submit reserved one turn; before the second, the reservation becomes what the first used plus the
    second's bound. With the limit at the first reservation, the second does not fit: the task stops,
    budget_exceeded, charged its first turn, and nothing stays reserved."""
    body = {
        "model": "priced-loop",
        "max_tokens": 100,
        "messages": [{"role": "user", "content": "Add 2 and 3, and the weather?"}],
        "mcp_servers": [{"name": "calc", "url": tools.url, "authorization": "t0ken"}],
    }
    status, created = stack.api("POST", "/v1/async", body=body)
    assert status == 200, created
    first_turn = stack.api("GET", "/v1/usage")[1]["budgets"]["daily"]["reserved"]
    assert first_turn == round(((len(b"Add 2 and 3, and the weather?") + 8) * 3 + 100 * 15) / 1e6, 8)
    stack.store.set_budget("acme", Budget(daily=Decimal(str(first_turn))), at=0)
    stack.run_worker()
    task = stack.store.get("acme", parse_any(created["id"]))
    assert task.status == TaskStatus.FAILED and task.error.code == "budget_exceeded", task.error
    assert task.error.message.startswith("The next model turn would reserve")
    assert task.usage.prompt_tokens > 0 and task.usage.cost.total_cost > 0  # its first turn, charged
    daily = stack.api("GET", "/v1/usage")[1]["budgets"]["daily"]
    assert (daily["spent"], daily["reserved"]) == (task.usage.cost.total_cost, 0)
    assert daily["spent"] <= first_turn
