"""Every sample event in events/ runs through the handler it is for, against the emulator."""

import asyncio
import contextlib
import json
import os
from collections.abc import Callable
from typing import Any
from unittest import mock
from urllib.parse import urlencode

import httpx
import pytest

from asyncinfer.domain.model import TaskKind, TaskStatus
from asyncinfer.handlers import pruner, stream
from asyncinfer.routes import HANDLERS
from asyncinfer.surfaces.async_api import public_id
from asyncinfer.tasks.keys import create_key
from infra.local.durable import RUNNER_NAME
from tests.conftest import EVENTS, load_event
from tests.integration.test_store import make_task
from tests.support.durable import DurableRuntime
from tests.support.lambda_versions import LambdaVersions

# The pruner's settings in these samples (the stack sets them from the runner and pruner constructs).
PRUNER_ENV = {"ASYNCINFER_RUNNER_FUNCTION_NAME": RUNNER_NAME, "ASYNCINFER_PRUNE_KEEP": "0"}

pytestmark = pytest.mark.integration


def handler_for(name: str) -> str:
    return next(function for function in HANDLERS if name.startswith(function))


def through_web_adapter(event: dict, base_url: str | None = None, app: Any = None) -> httpx.Response:
    """What Lambda Web Adapter does with a REST proxy event: an HTTP request to the app (the streaming function's
    unless given), the request context in the x-amzn-request-context header. In process, or to the app served at
    base_url."""
    headers = {**event["headers"], "x-amzn-request-context": json.dumps(event["requestContext"])}
    query = urlencode(event.get("queryStringParameters") or {})

    async def send() -> httpx.Response:
        transport = httpx.ASGITransport(app=app or stream.app) if base_url is None else None
        async with httpx.AsyncClient(transport=transport, base_url=base_url or "http://lambda") as client:
            return await client.request(
                event["httpMethod"], event["path"] + (f"?{query}" if query else ""), headers=headers
            )

    return asyncio.run(send())


def test_there_is_a_sample_event_for_every_handler():
    names = [p.stem for p in EVENTS.glob("*.json")]
    assert {handler_for(n) for n in names} == set(HANDLERS)


SAMPLE_EVENTS = sorted(p.stem for p in EVENTS.glob("*.json"))


@pytest.mark.parametrize("name", SAMPLE_EVENTS)
def test_each_sample_event_is_handled(aws, name):
    check_sample_event(aws, name, through_web_adapter)


def check_sample_event(
    aws, name: str, web_adapter: Callable[[dict], httpx.Response], durable: DurableRuntime | None = None
) -> None:
    """Runs one sample event through its handler (aws.functions) and checks what it did; the stream's
    events go through `web_adapter`, as Lambda Web Adapter would send them to the streaming app, and the
    runner's through a local durable execution service (`durable`, or one made here)."""
    event = load_event(name)
    function = handler_for(name)
    # The stream of a task that already ended replays its log and closes.
    task = make_task(
        tenant="acme",
        status=TaskStatus.CANCELLED if function == "stream" else TaskStatus.CREATED,
        kind=TaskKind.IMAGE if function == "api_netmind" else TaskKind.CHAT,
    )
    aws.store.create(task)
    if function == "authorizer":
        key = create_key(aws.store, "acme")
        event["headers"]["Authorization"] = f"Bearer {key}"
    elif function.startswith(("api_", "stream")) and event.get("pathParameters"):
        event["path"] = event["path"].replace(event["pathParameters"]["id"], public_id(task.id))
        event["pathParameters"]["id"] = public_id(task.id)
    elif function in {"worker", "dead_letter"}:
        for record in event["Records"]:
            record["body"] = json.dumps({"tenant": "acme", "task_id": task.id})

    if function == "stream":
        aws.store.append_events("acme", task.id, 1, [{"type": "delta", "text": "hi"}])
        response = web_adapter(event)
        assert response.status_code == 200, response.text
        *_, last = response.text.strip().split("\n\n")
        assert last.startswith("event: end\ndata: ")
        assert json.loads(last.partition("data: ")[2])["status"] == "CANCELLED"
        assert 'id: 1\nevent: delta\ndata: {"seq":1,"type":"delta","text":"hi"}' in response.text
        return

    if function in {"batch", "notifier", "webhook_sender"}:
        check_notification_event(aws, name, event)
        return

    if function == "runner":
        check_durable_event(aws, task.id, event, durable)
        return

    if function == "pruner":
        check_prune_event(aws, event)
        return

    result = aws.functions.invoke(function, event)

    if function == "authorizer":
        assert result["context"] == {"tenant": "acme"}
    elif function.startswith("api_"):
        assert result["statusCode"] == 200, result["body"]
    elif function == "sweeper" and event.get("deadlines"):
        # The task has no deadline: nothing is due.
        assert result == {"late": 0}
        assert aws.store.get("acme", task.id).status == TaskStatus.CREATED
    elif function == "sweeper":
        # The task was just created: the sweep sees nothing old enough to be an orphan.
        assert result == {"examined": 0, "requeued": 0, "failed": 0, "late": 0}
        assert aws.store.get("acme", task.id).requeued_at is None
    else:
        assert result == {"batchItemFailures": []}
        expected = TaskStatus.COMPLETED if function == "worker" else TaskStatus.FAILED
        assert aws.store.get("acme", task.id).status == expected


def check_durable_event(aws, task_id: str, event: dict, durable: DurableRuntime | None) -> None:
    """A durable invocation's event is made by the durable execution service, with its execution's ARN and
    checkpoint token: the sample's input starts a real execution, whose invocations run the handler."""
    (execution,) = event["InitialExecutionState"]["Operations"]
    assert json.loads(execution["ExecutionDetails"]["InputPayload"]).keys() == {"tenant", "task_id"}
    with contextlib.ExitStack() as stack:
        if durable is None:
            durable = stack.enter_context(DurableRuntime(lambda e: aws.functions.invoke("runner", e)))
        ended = durable.run("acme", task_id)
    assert ended["Status"] == "SUCCEEDED", ended
    assert json.loads(ended["Result"]) == {"outcome": "completed"}
    assert aws.store.get("acme", task_id).status == TaskStatus.COMPLETED


def check_prune_event(aws, event: dict) -> None:
    """The daily prune, against a stand-in for Lambda's versions API (AWS_ENDPOINT_URL_LAMBDA, which
    test_artifact also gives the bundle): of versions 1..4, live on 4 and a long task still on 2, it deletes
    3 and 1."""
    fake = LambdaVersions.shared()
    fake.reset(RUNNER_NAME, versions=4, live="4", running={"2"})
    with mock.patch.dict(os.environ, PRUNER_ENV | {"AWS_ENDPOINT_URL_LAMBDA": fake.url}):
        pruner.lambda_client.cache_clear()
        try:
            result = aws.functions.invoke("pruner", event)
        finally:
            pruner.lambda_client.cache_clear()
    assert result == {"deleted": ["3", "1"], "kept": {"4": "alias live", "2": "running"}}
    assert fake.deleted == ["3", "1"]
    assert {qualifier for qualifier, _ in fake.listed} == {"3", "2", "1"}


def check_notification_event(aws, name: str, event: dict) -> None:
    """The batch function (scheduled, or a queued job), the stream's notifier, and the webhook sender."""
    if name == "batch_schedule":
        result = aws.functions.invoke("batch", event)
        assert result["status"] == "in_progress" and result["schedule"] == "nightly-summaries"
        assert result["request_counts"]["total"] == len(event["batch"]["requests"])
        assert aws.queue_depth(aws.resources.batch_queue_url) == 1
        return
    if name == "batch_sqs":
        batch = aws.functions.invoke("batch", load_event("batch_schedule"))
        batch_id = batch["id"].removeprefix("batch_").replace("-", "")
        for record in event["Records"]:
            record["body"] = json.dumps({"tenant": "acme", "batch_id": batch_id})
        assert aws.functions.invoke("batch", event) == {"batchItemFailures": []}
        # One message per item, on the batch items' own queue.
        assert aws.queue_depth(aws.resources.batch_items_queue_url) == batch["request_counts"]["total"]
        return
    if name == "notifier_stream":
        assert aws.functions.invoke("notifier", event) == {"batchItemFailures": []}
        assert aws.queue_depth(aws.resources.webhook_queue_url) == 1
        status, deliveries = aws.api("GET", "/v1/webhooks/deliveries", function="api_webhooks")
        assert status == 200 and [d["event_type"] for d in deliveries["data"]] == ["task.completed"]
        return
    # webhook_sender: the sample's delivery is made by the sample stream record; its URL does not
    # resolve here (no internet), which the sender records as a refused URL, a permanent failure.
    aws.functions.invoke("notifier", load_event("notifier_stream"))
    assert aws.functions.invoke("webhook_sender", event) == {"batchItemFailures": []}
    delivery_id = json.loads(event["Records"][0]["body"])["delivery_id"]
    status, delivery = aws.api("GET", f"/v1/webhooks/deliveries/{delivery_id}", function="api_webhooks")
    assert status == 200, delivery
    assert delivery["status"] == "failed" and delivery["attempt_count"] == 1
    assert delivery["attempts"][0]["error"].startswith("Cannot resolve hooks.example.com")
