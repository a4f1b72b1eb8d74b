"""Real handlers and real boto3 calls against moto (in-process)."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from moto import mock_aws

from asyncinfer import wiring
from asyncinfer.routes import ROUTES
from asyncinfer.store.dynamodb import DynamoTaskStore
from infra.local.devserver import Router
from infra.local.emulator import Resources, provision
from infra.local.functions import LocalFunctions
from infra.local.poller import Poller
from infra.local.streams import StreamPoller
from tests.conftest import load_event

pytestmark = pytest.mark.integration

ENV = {
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "POWERTOOLS_METRICS_DISABLED": "true",
    "ASYNCINFER_DEMO_CHAT_SECONDS": "0",
    "ASYNCINFER_DEMO_MEDIA_SECONDS": "0",
    "ASYNCINFER_FLUSH_SECONDS": "0.01",
    # A worker invocation's receives of more messages do not long-poll: each would add its wait to the test.
    "ASYNCINFER_REFILL_WAIT_SECONDS": "0",
    # Webhook receivers in these tests listen on loopback.
    "ASYNCINFER_WEBHOOK_ALLOW_PRIVATE": "true",
}


@dataclass
class Aws:
    resources: Resources
    ddb: Any
    sqs: Any
    s3: Any
    store: DynamoTaskStore
    functions: LocalFunctions
    streams: Any = None
    _stream_poller: StreamPoller | None = None

    def run_notifier(self) -> int:
        """Deliver the table stream's new records to the notifier, as its event source mapping would."""
        if self._stream_poller is None:
            self._stream_poller = StreamPoller(self.streams, self.resources.stream_arn, self.functions, "notifier")
        read = 0
        while batch := self._stream_poller.poll_once():
            read += batch
        return read

    def everything_stored(self) -> str:
        """Every byte at rest: the table's items, its stream's records and the bucket's objects."""
        parts = [
            json.dumps(page["Items"])
            for page in self.ddb.get_paginator("scan").paginate(TableName=self.resources.table_name)
        ]
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.resources.bucket_name):
            for obj in page.get("Contents", []):
                body = self.s3.get_object(Bucket=self.resources.bucket_name, Key=obj["Key"])["Body"].read()
                parts.append(body.decode(errors="replace"))
        for shard in self.streams.describe_stream(StreamArn=self.resources.stream_arn)["StreamDescription"]["Shards"]:
            iterator = self.streams.get_shard_iterator(
                StreamArn=self.resources.stream_arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
            )["ShardIterator"]
            while iterator and (records := self.streams.get_records(ShardIterator=iterator))["Records"]:
                parts.append(json.dumps(records["Records"], default=str))
                iterator = records.get("NextShardIterator")
        return "\n".join(parts)

    def run_queue(self, function: str, max_batches: int = 50) -> int:
        """Deliver a queue's messages (webhook_sender, batch, worker) to its function, until it is empty
        of visible messages."""
        r = self.resources
        url, arn = {
            "worker": (r.queue_url, r.queue_arn),
            "webhook_sender": (r.webhook_queue_url, r.webhook_queue_arn),
            "batch": (r.batch_queue_url, r.batch_queue_arn),
            "batch_items": (r.batch_items_queue_url, r.batch_items_queue_arn),
            "priority": (r.priority_queue_url, r.priority_queue_arn),
            "flex": (r.flex_queue_url, r.flex_queue_arn),
        }[function]
        worker = function in ("batch_items", "priority", "flex")
        poller = Poller(self.sqs, url, arn, self.functions, "worker" if worker else function)
        received = 0
        for _ in range(max_batches):
            batch = poller.poll_once()
            if not batch:
                break
            received += batch
        return received

    def queue_depth(self, url: str | None = None) -> int:
        attrs = self.sqs.get_queue_attributes(
            QueueUrl=url or self.resources.queue_url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return int(attrs["ApproximateNumberOfMessages"]) + int(attrs["ApproximateNumberOfMessagesNotVisible"])

    def run_worker(self, max_batches: int = 20) -> int:
        """Deliver queued messages (tasks, then batch items) to the worker handler, as the event source
        mappings would."""
        lanes = ("worker", "priority", "flex", "batch_items")
        return sum(self.run_queue(lane, max_batches) for lane in lanes)

    def api(
        self,
        method: str,
        path: str,
        *,
        tenant: str = "acme",
        body: Any = None,
        query: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        function: str = "api_async",
    ) -> tuple[int, dict]:
        """Call an API handler with an API Gateway proxy event built from events/. The route's {id} is
        the path segment that is the one route resource has as a parameter."""
        text = body if isinstance(body, str) or body is None else json.dumps(body)
        result = self.invoke_api(
            method, path, tenant=tenant, body=text, query=query, headers=headers, function=function
        )
        return result["statusCode"], json.loads(result["body"]) if result["body"] else {}

    def invoke_api(
        self,
        method: str,
        path: str,
        *,
        tenant: str = "acme",
        body: str | bytes | None = None,
        query: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        function: str = "api_async",
    ) -> dict[str, Any]:
        """The handler's whole answer to the proxy event; a bytes body goes base64-encoded, as API
        Gateway sends a binary media type."""
        event = load_event("api_async_get")
        resource, params = resource_of(method, path)
        binary = isinstance(body, bytes)
        event.update(
            resource=resource,
            path=path,
            httpMethod=method,
            pathParameters=params or None,
            queryStringParameters=query,
            multiValueQueryStringParameters={k: [v] for k, v in query.items()} if query else None,
            body=base64.b64encode(body).decode() if binary else body,
            isBase64Encoded=binary,
        )
        for name, value in (headers or {}).items():
            event["headers"][name] = value
            event["multiValueHeaders"][name] = [value]
        event["requestContext"].update(resourcePath=resource, httpMethod=method)
        event["requestContext"]["authorizer"].update(tenant=tenant, principalId=tenant)
        return self.functions.invoke(function, event)


def resource_of(method: str, path: str) -> tuple[str, dict[str, str]]:
    """The API Gateway resource a path falls on, by the same matching the dev gateway does."""
    found = Router(ROUTES).match(method, path)
    if found is None:
        return path, {}
    return found.route.path, found.params


def _clear_caches() -> None:
    wiring.reset()


@pytest.fixture
def aws(monkeypatch):
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        ddb, sqs, s3 = boto3.client("dynamodb"), boto3.client("sqs"), boto3.client("s3")
        resources = provision(boto3.client, "test")
        for name, value in resources.env().items():
            monkeypatch.setenv(name, value)
        _clear_caches()
        # botocore addresses a stream by its account (<account>.streams-ddb...), which moto does not route.
        streams = boto3.client("dynamodbstreams", endpoint_url="https://streams.dynamodb.us-east-1.amazonaws.com")
        yield Aws(resources, ddb, sqs, s3, DynamoTaskStore(ddb, resources.table_name), LocalFunctions(), streams)
    _clear_caches()


REFERENCE_BODY = json.loads(load_event("api_async_submit")["body"])


@pytest.fixture(scope="module")
def model_server():
    """A scripted OpenAI-compatible model on loopback (tests.support.openai_server)."""
    from tests.support.openai_server import OpenAIServer

    with OpenAIServer() as running:
        yield running


@pytest.fixture(scope="module")
def tools():
    """A real MCP server (the official SDK's) on loopback."""
    from tests.support.mcp_server import RunningMcpServer

    with RunningMcpServer() as running:
        yield running


@pytest.fixture(scope="module")
def exported_spans():
    """The process's spans, kept in memory from this module's first use on."""
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from asyncinfer.observability import exporting

    exporter = InMemorySpanExporter()
    exporting.add(SimpleSpanProcessor(exporter))
    yield exporter
    exporter.shutdown()  # the processor stays on the process's provider: it keeps nothing more


@pytest.fixture
def spans(exported_spans):
    exported_spans.clear()
    return exported_spans
