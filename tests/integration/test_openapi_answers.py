"""Every answer a route gives, through the real handlers, is as the document says: the models the document's
schemas are generated from (asyncinfer.surfaces.answers and each surface's module) cannot drift from what the
renderers answer. An answer may carry no field its model does not name (unless the model says it may), must carry
every field the model requires, each of the documented type and format; and every route with a model is
answered here at least once."""

import uuid

import pytest

from asyncinfer.surfaces import anthropic_batches, docs
from tests.integration.conftest import REFERENCE_BODY, resource_of
from tests.integration.test_batches import run_all
from tests.integration.test_files import jsonl, line, upload
from tests.support.openapi import answer_errors, answered_routes
from tests.support.webhook_receiver import WebhookReceiver

pytestmark = pytest.mark.integration
CHAT = {"model": "demo-chat", "messages": [{"role": "user", "content": "hello"}]}


class Checked:
    """Calls to the API whose 200 answers are checked against the document, and the routes they reached."""

    def __init__(self, aws) -> None:
        self.aws, self.document, self.routes, self.errors = aws, docs.document(), set(), []

    def __call__(self, method: str, path: str, function: str = "api_async", **how) -> dict:
        status, body = self.aws.api(method, path, function=function, **how)
        assert status == 200, (method, path, body)
        return self.check(method, path, body)

    def check(self, method: str, path: str, body: dict) -> dict:
        route = (method, resource_of(method, path)[0])
        self.routes.add(route)
        self.errors += answer_errors(self.document, *route, body)
        return body


def test_every_answer_through_the_handlers_is_as_its_model_documents_it(aws):
    call = Checked(aws)
    with WebhookReceiver() as receiver:
        # Async API, models, usage: a task read while it waits, once completed, failed, cancelled, deleted.
        done = call("POST", "/v1/async", body={**CHAT, "webhook": {"url": receiver.url}})
        call("GET", f"/v1/async/{done['id']}")
        failed = call("POST", "/v1/async", body={**CHAT, "model": "demo-fail"})
        aws.run_worker()
        aws.run_notifier()
        aws.run_queue("webhook_sender")
        receiver.wait_for(1)
    for task in (done, failed):
        call("GET", f"/v1/async/{task['id']}")
    call("GET", "/v1/async", query={"limit": "1"})
    cancelled = call("POST", "/v1/async", body=REFERENCE_BODY, headers={"Cancel-After": "1h"})
    call("GET", f"/v1/async/{cancelled['id']}")
    call("POST", f"/v1/async/{cancelled['id']}/cancel")
    call("DELETE", f"/v1/async/{cancelled['id']}")
    call("GET", "/v1/models")
    call("GET", "/v1/models/demo-chat")
    call("GET", "/v1/usage")

    # Perplexity, at both paths.
    for base in ("/async/chat/completions", "/v1/async/sonar"):
        request = call("POST", base, "api_perplexity", body={"request": CHAT})
        call("GET", f"{base}/{request['id']}", "api_perplexity")
        call("GET", base, "api_perplexity")
    aws.run_worker()
    call("GET", f"{base}/{request['id']}", "api_perplexity")

    # PrivateGPT.
    message = call("POST", "/v1/messages/async", "api_privategpt", body={"messages": CHAT["messages"]})
    call("GET", f"/v1/messages/async/{message['message_id']}/status", "api_privategpt")
    call("POST", f"/v1/messages/async/{message['message_id']}/cancel", "api_privategpt")
    call("DELETE", f"/v1/messages/async/{message['message_id']}", "api_privategpt")
    message = call("POST", "/v1/messages/async", "api_privategpt", body={"messages": CHAT["messages"]})
    aws.run_worker()
    call("GET", f"/v1/messages/async/{message['message_id']}/status", "api_privategpt")

    # NetMind: a generation waiting, completed (with its files' URLs), listed, deleted.
    generation = call("POST", "/v1/generation", "api_netmind", body={"model": "demo-image", "config": {"prompt": "x"}})
    call("GET", f"/v1/generation/{generation['id']}", "api_netmind")
    aws.run_worker()
    call("GET", f"/v1/generation/{generation['id']}", "api_netmind")
    call("GET", "/v1/generation", "api_netmind", query={"limit": "1"})
    call("DELETE", f"/v1/generation/{generation['id']}", "api_netmind")
    call("GET", f"/v1/generation/{generation['id']}", "api_netmind")

    # Batches and files: inline, from an uploaded file, cancelled, ended; the upload form.
    status, file = upload(aws, jsonl([line("a", model="demo-chat"), line("b", model="demo-chat")]))
    assert status == 200, file
    call.check("POST", "/v1/files", file)
    call("GET", "/v1/files", "api_batches")
    call("GET", f"/v1/files/{file['id']}", "api_batches")
    batch = call(
        "POST",
        "/v1/batches",
        "api_batches",
        body={"input_file_id": file["id"], "endpoint": "/v1/chat/completions", "completion_window": "24h"},
    )
    inline = call("POST", "/v1/batches", "api_batches", body={"requests": [{"custom_id": "q", "body": CHAT}]})
    call("POST", f"/v1/batches/{inline['id']}/cancel", "api_batches")
    # One that fails its item the first time (a prompt demo-fail-once never saw), retried once it ended.
    once = {"model": "demo-fail-once", "messages": [{"role": "user", "content": f"once {uuid.uuid4()}"}]}
    flaky = call("POST", "/v1/batches", "api_batches", body={"requests": [{"custom_id": "f", "body": once}]})
    # Message Batches: one running, one cancelled; both read once ended (with results_url), listed, one deleted.
    messages = call("POST", "/v1/messages/batches", "api_batches", body=anthropic_batches.EXAMPLE)
    call("GET", f"/v1/messages/batches/{messages['id']}", "api_batches")
    cancelled = call("POST", "/v1/messages/batches", "api_batches", body=anthropic_batches.EXAMPLE)
    call("POST", f"/v1/messages/batches/{cancelled['id']}/cancel", "api_batches")
    run_all(aws)
    call("POST", f"/v1/batches/{flaky['id']}/retry", "api_batches", body={})
    call("GET", f"/v1/messages/batches/{messages['id']}", "api_batches")
    call("GET", "/v1/messages/batches", "api_batches", query={"limit": "1"})
    call("DELETE", f"/v1/messages/batches/{cancelled['id']}", "api_batches")
    call("GET", f"/v1/batches/{batch['id']}", "api_batches")
    call("GET", f"/v1/batches/{batch['id']}/results", "api_batches")
    call("GET", f"/v1/batches/{inline['id']}/results", "api_batches", query={"limit": "1"})
    call("GET", "/v1/batches", "api_batches", query={"limit": "1"})
    call("POST", "/v1/batches/uploads", "api_batches")
    call("DELETE", f"/v1/files/{file['id']}", "api_batches")

    # Responses: one read while it waits, its input items, read completed; another cancelled and deleted.
    asked = {"model": "demo-chat", "input": "hello", "background": True}
    response = call("POST", "/v1/responses", "api_responses", body=asked)
    call("GET", f"/v1/responses/{response['id']}", "api_responses")
    call("GET", f"/v1/responses/{response['id']}/input_items", "api_responses")
    aws.run_worker()
    call("GET", f"/v1/responses/{response['id']}", "api_responses")
    other = call("POST", "/v1/responses", "api_responses", body=asked)
    call("POST", f"/v1/responses/{other['id']}/cancel", "api_responses")
    call("DELETE", f"/v1/responses/{other['id']}", "api_responses")

    # Webhooks: the secret before and after a rotation, the deliveries, one of them, delivered again.
    call("GET", "/v1/webhooks/secret", "api_webhooks")
    call("POST", "/v1/webhooks/secret/rotate", "api_webhooks")
    call("GET", "/v1/webhooks/secret", "api_webhooks")
    deliveries = call("GET", "/v1/webhooks/deliveries", "api_webhooks", query={"task_id": done["id"]})
    delivery = deliveries["data"][0]["id"]
    call("GET", f"/v1/webhooks/deliveries/{delivery}", "api_webhooks")
    call("POST", f"/v1/webhooks/deliveries/{delivery}/redeliver", "api_webhooks")

    assert not call.errors, "\n".join(call.errors)
    assert call.routes == answered_routes(call.document)
