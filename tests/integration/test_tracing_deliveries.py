"""One trace per task, past the worker: a webhook delivery's attempt joins its task's (or batch's) trace and
hands it to the receiver in `traceparent`; a long task's runner invocations, however many, are spans of its
trace; a batch's items are traces of their own, each linked to its batch's."""

from __future__ import annotations

import json
from types import SimpleNamespace as Op

import pytest
from aws_durable_execution_sdk_python.lambda_service import OperationStatus, OperationType, StepDetails
from opentelemetry.trace import SpanKind, StatusCode

from asyncinfer.domain.batches import item_task_id
from asyncinfer.domain.records import DeliveryStatus
from asyncinfer.handlers import webhook_sender
from asyncinfer.handlers.runner import invocation
from asyncinfer.observability import tracing
from asyncinfer.store.dynamodb_records import DynamoBatchStore
from asyncinfer.surfaces import openai_batches
from asyncinfer.surfaces.async_api import internal_id
from asyncinfer.tasks.webhooks import delivery_id
from asyncinfer.wiring.deliveries import webhook_store
from tests.integration.conftest import REFERENCE_BODY
from tests.integration.test_long_tasks import hex_of, run, submit_research
from tests.support.durable import RUNNER_ARN, DurableRuntime
from tests.support.webhook_receiver import WebhookReceiver

pytestmark = pytest.mark.integration


def in_trace(spans, traceparent: str | None) -> list:
    wanted = tracing.trace_id(traceparent)
    assert wanted, "a traceparent"
    return [s for s in spans.get_finished_spans() if format(s.context.trace_id, "032x") == wanted]


def span_id(traceparent: str) -> str:
    return traceparent.split("-")[2]


def hex_span(span) -> str:
    return format(span.context.span_id, "016x")


def values(span_list) -> str:
    return json.dumps([dict(s.attributes or {}) for s in span_list], default=str)


def test_a_delivery_joins_its_tasks_trace_and_sends_it_to_the_receiver(aws, spans):
    with WebhookReceiver() as receiver:
        status, task = aws.api("POST", "/v1/async", body={**REFERENCE_BODY, "webhook": {"url": receiver.url}})
        assert status == 200, task
        aws.run_worker()
        aws.run_notifier()
        aws.run_queue("webhook_sender")
        [hit] = receiver.wait_for(1)
    record = aws.store.get("acme", internal_id(task["id"]))
    assert record.traceparent, "the submit gave the task its trace"
    assert tracing.trace_id(hit.headers["traceparent"]) == tracing.trace_id(record.traceparent)
    [delivery] = [s for s in in_trace(spans, record.traceparent) if s.name == "webhook delivery"]
    assert delivery.kind == SpanKind.CLIENT
    assert span_id(hit.headers["traceparent"]) == hex_span(delivery), "the POST went out under the attempt's span"
    assert delivery.attributes[tracing.DELIVERY_ID] == delivery_id(record.id, "task.completed")
    assert delivery.attributes[tracing.EVENT_TYPE] == "task.completed"
    assert delivery.attributes[tracing.TASK_ID] == record.id
    assert delivery.attributes["http.response.status_code"] == 204
    assert delivery.status.status_code != StatusCode.ERROR
    # The Standard Webhooks headers are still there beside it; the URL is nowhere on a span.
    assert {"webhook-id", "webhook-timestamp", "webhook-signature"} <= hit.headers.keys()
    everything = values(spans.get_finished_spans())
    assert "127.0.0.1" not in everything and "/hooks" not in everything


def test_a_failed_attempt_is_an_error_span_and_each_retry_another_span_of_the_trace(aws, spans, monkeypatch):
    monkeypatch.setenv("ASYNCINFER_WEBHOOK_MAX_ATTEMPTS", "2")

    def back_off_now(record, *, base, cap):  # the failed message comes back at once, not after a backoff
        url = aws.resources.webhook_queue_url
        aws.sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=record.receipt_handle, VisibilityTimeout=0)

    monkeypatch.setattr(webhook_sender, "back_off", back_off_now)
    with WebhookReceiver(statuses=[500, 200]) as receiver:
        status, task = aws.api("POST", "/v1/async", body={**REFERENCE_BODY, "webhook": {"url": receiver.url}})
        assert status == 200, task
        aws.run_worker()
        aws.run_notifier()
        aws.run_queue("webhook_sender")
        hits = receiver.wait_for(2)
    record = aws.store.get("acme", internal_id(task["id"]))
    attempts = [s for s in in_trace(spans, record.traceparent) if s.name == "webhook delivery"]
    assert [s.attributes["http.response.status_code"] for s in attempts] == [500, 200]
    assert [s.status.status_code for s in attempts] == [StatusCode.ERROR, StatusCode.UNSET]
    assert attempts[0].attributes["error.type"] == "500"
    assert [span_id(h.headers["traceparent"]) for h in hits] == [hex_span(s) for s in attempts]


def test_a_delivery_recorded_without_a_traceparent_is_still_delivered(aws, spans):
    """A delivery recorded before traces existed: its attempt is a trace of its own."""
    with WebhookReceiver() as receiver:
        status, task = aws.api("POST", "/v1/async", body={**REFERENCE_BODY, "webhook": {"url": receiver.url}})
        assert status == 200, task
        aws.run_worker()
        aws.run_notifier()
        store = webhook_store(aws.resources.table_name)
        found = delivery_id(internal_id(task["id"]), "task.completed")
        older = store.get_delivery("acme", found)
        assert older.traceparent
        assert store.save_delivery(older.model_copy(update={"traceparent": None}), previous_count=0)
        assert store.get_delivery("acme", found).traceparent is None
        aws.run_queue("webhook_sender")
        [hit] = receiver.wait_for(1)
    assert store.get_delivery("acme", found).status == DeliveryStatus.DELIVERED
    record = aws.store.get("acme", internal_id(task["id"]))
    assert tracing.trace_id(hit.headers["traceparent"]) != tracing.trace_id(record.traceparent)
    [attempt] = [s for s in spans.get_finished_spans() if s.name == "webhook delivery"]
    assert attempt.parent is None and hex_span(attempt) == span_id(hit.headers["traceparent"])


@pytest.fixture
def paced_runner(aws, monkeypatch):
    """The runner, pausing after every step it may (a step budget above any invocation's time): each step
    then runs in an invocation of its own."""
    monkeypatch.setenv("ASYNCINFER_RUNNER_FUNCTION_ARN", RUNNER_ARN)
    monkeypatch.setenv("ASYNCINFER_DEMO_RESEARCH_STEP_SECONDS", "0")
    monkeypatch.setenv("ASYNCINFER_DEMO_RESEARCH_TOOL_SECONDS", "0")
    monkeypatch.setenv("ASYNCINFER_STEP_BUDGET_SECONDS", "3600")
    with DurableRuntime(lambda event: aws.functions.invoke("runner", event)) as durable:
        yield aws, durable


def test_a_long_tasks_runner_invocations_are_spans_of_its_trace(paced_runner, spans):
    aws, durable = paced_runner
    prompt = "Why is the sky blue, traced?"
    task_id = submit_research(aws, prompt=prompt, steps=2)
    done = run(aws, durable, task_id)
    assert done["status"] == "COMPLETED", done
    record = aws.store.get("acme", hex_of(task_id))
    trace = in_trace(spans, record.traceparent)
    invocations = sorted((s for s in trace if s.name == "runner invocation"), key=lambda s: s.start_time)
    assert len(invocations) >= 3, [s.name for s in trace]
    ordinals = [s.attributes[tracing.INVOCATION] for s in invocations]
    assert ordinals == list(range(1, len(invocations) + 1))
    assert {s.attributes[tracing.TASK_ID] for s in invocations} == {record.id}
    # A pause ends an invocation well: none of them is an error.
    assert all(s.status.status_code != StatusCode.ERROR for s in invocations)
    # Each live step is a span under the invocation that ran it; every step ran once, in one invocation.
    steps = [s for s in trace if s.name.startswith("step ")]
    by_invocation = {hex_span(s) for s in invocations}
    assert steps and all(format(s.parent.span_id, "016x") in by_invocation for s in steps)
    names = [s.name for s in steps]
    assert names[0] == "step begin" and names[-1] == "step finish"
    assert len(names) == len(set(names))
    assert len({s.parent.span_id for s in steps}) >= 3, "the steps ran across several invocations"
    assert prompt not in values(trace) and done["choices"][0]["message"]["content"][:40] not in values(trace)


def test_a_batch_item_is_a_trace_of_its_own_linked_to_its_batch(aws, spans):
    body = {
        "requests": [
            {"custom_id": f"req-{i}", "body": {"model": "demo-chat", "messages": [{"role": "user", "content": "hi"}]}}
            for i in range(2)
        ]
    }
    with WebhookReceiver() as receiver:
        body["webhook"] = {"url": receiver.url}
        answer = aws.invoke_api("POST", "/v1/batches", body=json.dumps(body), function="api_batches")
        assert answer["statusCode"] == 200, answer
        public = json.loads(answer["body"])["id"]
        while aws.run_queue("batch") + aws.run_worker() + aws.run_notifier():
            pass
        aws.run_queue("webhook_sender")
        [hit] = receiver.wait_for(1)
    batch = DynamoBatchStore(aws.ddb, aws.resources.table_name).get_batch("acme", openai_batches.internal_id(public))
    assert tracing.trace_id(batch.traceparent) == tracing.trace_id(answer["headers"]["traceparent"])
    batch_trace = tracing.trace_id(batch.traceparent)
    for index in range(2):
        item = aws.store.get("acme", item_task_id(batch.id, index))
        assert tracing.trace_id(item.traceparent) != batch_trace, "an item's trace is its own"
        trace = in_trace(spans, item.traceparent)
        [made] = [s for s in trace if s.name == "batch item"]
        assert hex_span(made) == span_id(item.traceparent)
        assert made.attributes[tracing.TASK_ID] == item.id and made.attributes[tracing.BATCH_ID] == batch.id
        assert [format(link.context.trace_id, "032x") for link in made.links] == [batch_trace]
        assert len(trace) > 1, "the item's later hops are spans of its trace"
    # The batch's own event goes out in the batch's trace.
    [delivery] = [s for s in in_trace(spans, batch.traceparent) if s.name == "webhook delivery"]
    assert delivery.attributes[tracing.BATCH_ID] == batch.id and tracing.TASK_ID not in delivery.attributes
    assert tracing.trace_id(hit.headers["traceparent"]) == batch_trace


def test_an_invocations_ordinal_counts_the_pauses_and_step_retries_before_it():
    def step(status, attempts):
        return Op(operation_type=OperationType.STEP, status=status, step_details=StepDetails(attempt=attempts))

    operations = [
        Op(operation_type=OperationType.EXECUTION, status=OperationStatus.STARTED, step_details=None),
        step(OperationStatus.SUCCEEDED, 1),  # first try: no suspension
        Op(operation_type=OperationType.WAIT, status=OperationStatus.SUCCEEDED, step_details=None),  # a pause
        step(OperationStatus.SUCCEEDED, 3),  # two retries, then it succeeded
        step(OperationStatus.READY, 1),  # one retry, due now: this invocation runs it
    ]
    context = Op(state=Op(operations={str(n): op for n, op in enumerate(operations)}))
    assert invocation(context) == 1 + 1 + 2 + 1
    assert invocation(Op(state=Op(operations={}))) == 1
    assert invocation(Op()) is None
