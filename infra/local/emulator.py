"""The embedded AWS: a moto server on loopback with the table, queues and bucket of the stack."""

from __future__ import annotations

import contextlib
import gc
import inspect
import json
import logging
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import boto3
from moto.server import ThreadedMotoServer

from asyncinfer.store.schema import (
    TABLE_ATTRIBUTES,
    TABLE_INDEXES,
    TABLE_KEY_SCHEMA,
    TABLE_STREAM_VIEW,
    TTL_ATTRIBUTE,
)
from infra.local.child import Child, ready
from infra.local.fair_queues import fair_receives
from infra.queue_plan import QueueSpec, queue_plan

REGION = "us-east-1"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local"}
# Locally the worker "function" times out after this; the queue follows AWS's 6 x timeout guidance.
WORKER_TIMEOUT_SECONDS = 60
MAX_RECEIVE_COUNT = 3
WEBHOOK_MAX_ATTEMPTS = 8  # the sender's default (ASYNCINFER_WEBHOOK_MAX_ATTEMPTS)


@dataclass(frozen=True)
class Resources:
    endpoint: str
    table_name: str
    queue_url: str
    queue_arn: str
    dlq_url: str
    dlq_arn: str
    bucket_name: str
    stream_arn: str = ""
    webhook_queue_url: str = ""
    webhook_queue_arn: str = ""
    batch_queue_url: str = ""
    batch_queue_arn: str = ""
    batch_items_queue_url: str = ""
    batch_items_queue_arn: str = ""
    webhook_dlq_url: str = ""
    webhook_dlq_arn: str = ""
    sealing_key_id: str = ""
    priority_queue_url: str = ""
    priority_queue_arn: str = ""
    flex_queue_url: str = ""
    flex_queue_arn: str = ""

    def env(self) -> dict[str, str]:
        """What the functions see in their environment, as on AWS (plus the emulator endpoint)."""
        env = {
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
            **CREDENTIALS,
            "ASYNCINFER_TABLE_NAME": self.table_name,
            "ASYNCINFER_QUEUE_URL": self.queue_url,
            "ASYNCINFER_BUCKET_NAME": self.bucket_name,
            "ASYNCINFER_WEBHOOK_QUEUE_URL": self.webhook_queue_url,
            "ASYNCINFER_BATCH_QUEUE_URL": self.batch_queue_url,
            "ASYNCINFER_BATCH_ITEMS_QUEUE_URL": self.batch_items_queue_url,
            "ASYNCINFER_PRIORITY_QUEUE_URL": self.priority_queue_url,
            "ASYNCINFER_FLEX_QUEUE_URL": self.flex_queue_url,
            "ASYNCINFER_SEALING_KEY_ID": self.sealing_key_id,
        }
        if self.endpoint:
            env["AWS_ENDPOINT_URL"] = self.endpoint
        return env


_DYNAMODB = threading.Lock()


def serialize_dynamodb() -> None:
    """One DynamoDB action at a time in the emulator. moto's TransactWriteItems snapshots the table and,
    when a condition fails, puts the snapshot back, erasing what other threads wrote meanwhile (and the
    snapshot itself can crash on a table that changes under it). DynamoDB's transactions are atomic and
    its items linearizable; with this lock, so are the emulator's."""
    from moto.dynamodb.responses import DynamoHandler

    action = DynamoHandler.call_action
    if getattr(action, "serialized", False):
        return

    def call_action(self):  # type: ignore[no-untyped-def]
        if _reads_an_index(self):
            try:
                return action(self)
            except (RuntimeError, KeyError):
                # A writer changed what it was walking: read again, alone. RuntimeError: a dict changed
                # size during iteration; KeyError: an item matched the index, then lost its key attribute
                # before moto sorted the matches (a task leaving the queued index as it starts), once a
                # 500 with a 60-line traceback on the console. An error of moto's own shows again here.
                pass
        with _DYNAMODB:
            return action(self)

    call_action.serialized = True  # type: ignore[attr-defined]
    DynamoHandler.call_action = call_action  # type: ignore[method-assign]


def _reads_an_index(handler: Any) -> bool:
    """A Query or Scan of a secondary index. DynamoDB's global secondary indexes are eventually
    consistent (no ConsistentRead) and this table's project keys only, so such a read needs no place in
    the line: moto answers one by walking, sorting and copying the whole table (60 ms and more for 500
    tasks), and every write in the stack would otherwise wait behind the in-flight count or the sweep."""
    target = handler.headers.get("X-Amz-Target", "")
    return target.endswith((".Query", ".Scan")) and bool(getattr(handler, "params", {}).get("IndexName"))


def transactions_in_place() -> None:
    """moto's TransactWriteItems deep-copies every table it touches before it starts, and on a failed
    condition swaps the copies in for the tables: each transaction costs a copy of the whole table (the
    local stack slows down as the table grows), and whoever holds the table object (the local stream
    poller) is left reading a table nobody writes any more. Here only the items a transaction names are
    saved, and a failed one puts them back in place (and takes back the stream records it wrote), as on
    DynamoDB, where a cancelled transaction changes nothing and streams nothing."""
    import copy

    import moto.dynamodb.models as models
    from moto.dynamodb.models import DynamoDBBackend, DynamoType
    from moto.dynamodb.models.table import Table

    transact = DynamoDBBackend.transact_write_items
    if getattr(transact, "in_place", False):
        return

    class TablesStayPut:
        """The `copy` moto's backend module sees: a table is its own copy, anything else is copied."""

        @staticmethod
        def deepcopy(value: Any, memo: Any = None) -> Any:
            return value if isinstance(value, Table) else copy.deepcopy(value, memo)

    models.copy = TablesStayPut  # type: ignore[assignment]

    def saved_items(backend: Any, transact_items: list[dict[str, Any]]) -> list[tuple[Any, Any, Any, Any]]:
        saved = []
        for entry in transact_items:
            for op in entry.values():
                table = backend.tables.get(op.get("TableName")) if isinstance(op, dict) else None
                attrs = (op.get("Item") or op.get("Key") or {}) if table is not None else {}
                if table is None or table.hash_key_attr not in attrs:
                    continue
                hash_key = DynamoType(attrs[table.hash_key_attr])
                range_key = DynamoType(attrs[table.range_key_attr]) if table.range_key_attr in attrs else None
                with contextlib.suppress(Exception):  # a malformed key: moto's own validation answers it
                    saved.append((table, hash_key, range_key, copy.deepcopy(table.get_item(hash_key, range_key))))
        return saved

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        saved = saved_items(self, transact_items)
        streamed = {id(t): (t, len(t.stream_shard.items)) for t, *_ in saved if t.stream_shard is not None}
        try:
            transact(self, transact_items)
        except Exception:
            for table, hash_key, range_key, item in reversed(saved):
                place, key = (table.items[hash_key], range_key) if range_key is not None else (table.items, hash_key)
                if item is None:
                    place.pop(key, None)
                else:
                    place[key] = item
            for table, count in streamed.values():
                del table.stream_shard.items[count:]
            raise

    transact_write_items.in_place = True  # type: ignore[attr-defined]
    DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]


def cheap_sqs_retention_check() -> None:
    """moto checks each message's retention by building all of its queue's attributes, whose counts walk
    every message: a receive from a queue of n messages costs n², seconds of the one process's CPU for a
    large batch's queue. The retention period alone decides it, as on SQS."""
    from moto.core.utils import unix_time
    from moto.sqs.models import SQSBackend

    def valid(self, queue_name: str, message) -> bool:  # type: ignore[no-untyped-def]
        retention = int(self.get_queue(queue_name).message_retention_period)
        return retention + message.sent_timestamp / 1000 > unix_time()

    SQSBackend.is_message_valid_based_on_retention_period = valid  # type: ignore[method-assign]


def moto_modules_listed_once() -> None:
    """moto's server finds each request's service under one lock held across every request, listing its
    package's directory (a stat per service) once or twice a request: requests queue behind the disk. The
    list never changes while it runs."""
    from moto import backends

    if getattr(backends.list_of_moto_modules, "listed_once", False):
        return
    modules = tuple(backends.list_of_moto_modules())

    def listed() -> tuple[str, ...]:
        return modules

    listed.listed_once = True  # type: ignore[attr-defined]
    backends.list_of_moto_modules = listed  # type: ignore[assignment]


def plain_json_answers() -> None:
    """moto writes each DynamoDB answer by walking the operation's botocore shape, a third of the
    emulator's time under load; the answers of item operations are JSON already (in DynamoDB's wire
    format). Anything json cannot write as it stands (binary values, dates) or any error still takes
    moto's way."""
    import secrets

    from moto.dynamodb.responses import DynamoHandler

    serialized = DynamoHandler.serialized
    if getattr(serialized, "plain", False):
        return

    def plain(self: Any, action_result: Any) -> Any:  # type: ignore[no-untyped-def]
        result = action_result.result
        if isinstance(result, dict):
            try:
                body = json.dumps(result)
            except (TypeError, ValueError):
                return serialized(self, action_result)
            headers = {
                "Content-Type": "application/x-amz-json-1.0",
                "server": "amazon.com",
                "x-amzn-requestid": secrets.token_urlsafe(39),
                **self.response_headers,
            }
            return 200, headers, body
        return serialized(self, action_result)

    plain.plain = True  # type: ignore[attr-defined]
    DynamoHandler.serialized = plain  # type: ignore[method-assign]


_COUNTING = threading.local()


def _equal(found: Any, value: Any) -> bool:
    return found is not None and found == value


def counts_by_walking() -> None:
    """A Query of an index with `Select: COUNT` (the in-flight cap on every submit, a queued task's place
    in line): moto sorts every item of the table, then sorts, sizes, deep-copies and projects each match
    only to count them, 60 ms and more for 500 tasks. When the whole count fits within the query's limit
    (no page to resume from), walking the items and counting the matches gives the same Count."""
    from moto.dynamodb.models.dynamo_type import Item
    from moto.dynamodb.models.table import Table
    from moto.dynamodb.responses import DynamoHandler

    handler_query, table_query = DynamoHandler.query, Table.query
    if getattr(table_query, "counts", False):
        return
    signature = inspect.signature(table_query)

    def query(self: Any) -> Any:  # type: ignore[no-untyped-def]
        body = getattr(self, "params", {})  # moto sets its body from these once the action runs
        _COUNTING.on = body.get("Select") == "COUNT" and not (
            body.get("FilterExpression") or body.get("QueryFilter") or body.get("ExclusiveStartKey")
        )
        try:
            return handler_query(self)
        finally:
            _COUNTING.on = False

    def counted(self: Any, *args: Any, **kwargs: Any) -> Any:  # type: ignore[no-untyped-def]
        given = signature.bind(self, *args, **kwargs).arguments
        index_name, limit = given.get("index_name"), given.get("limit")
        hash_conditions = given.get("hash_key_conditions") or []
        range_conditions = given.get("range_key_conditions") or []
        if not (
            getattr(_COUNTING, "on", False)
            and index_name
            and hash_conditions
            and len(range_conditions) <= 1
            and not given.get("exclusive_start_key")
            and not given.get("filter_kwargs")
        ):
            return table_query(self, *args, **kwargs)
        index = self.get_index(index_name)
        range_keys = [k["AttributeName"] for k in index.schema if k["KeyType"] == "RANGE"]
        matches = []
        for partition in list(self.items.values()):
            for item in list(partition.values()) if self.range_key_attr else [partition]:
                if not isinstance(item, Item):
                    continue
                attrs = item.attrs
                if not all(_equal(attrs.get(name), value) for name, value in hash_conditions):
                    continue
                if not all(attrs.get(name) for name in range_keys):
                    continue
                if range_conditions:
                    name, comparison, values = range_conditions[0]
                    value = attrs.get(name)
                    if value is None or not value.compare(comparison, values):
                        continue
                matches.append(item)
                if limit and len(matches) > limit:  # a page to resume from: moto's way finds its key
                    return table_query(self, *args, **kwargs)
        return matches, len(matches), None

    counted.counts = True  # type: ignore[attr-defined]
    DynamoHandler.query = query  # type: ignore[method-assign]
    Table.query = counted  # type: ignore[method-assign]


serialize_dynamodb()
plain_json_answers()
counts_by_walking()
transactions_in_place()
cheap_sqs_retention_check()
fair_receives()
moto_modules_listed_once()


class Emulator:
    def __init__(self, port: int = 0) -> None:
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        self.endpoint = ""

    def start(self) -> str:
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.endpoint = f"http://{host}:{port}"
        return self.endpoint

    def stop(self) -> None:
        self._server.stop()

    def client(self, service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=self.endpoint,
            region_name=REGION,
            aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        )

    def create_resources(self, prefix: str = "asyncinfer-dev") -> Resources:
        return provision(self.client, prefix, self.endpoint)


def provision(clients: Callable[[str], Any], prefix: str, endpoint: str = "") -> Resources:
    """Create the stack's table, queues, bucket and sealing key with these clients (moto server or in-process)."""
    ddb, sqs, s3 = clients("dynamodb"), clients("sqs"), clients("s3")
    table = f"{prefix}-tasks"
    ddb.create_table(
        TableName=table,
        KeySchema=TABLE_KEY_SCHEMA,
        AttributeDefinitions=TABLE_ATTRIBUTES,
        GlobalSecondaryIndexes=TABLE_INDEXES,
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": TABLE_STREAM_VIEW},
    )
    stream_arn = ddb.describe_table(TableName=table)["Table"]["LatestStreamArn"]
    ddb.update_time_to_live(TableName=table, TimeToLiveSpecification={"Enabled": True, "AttributeName": TTL_ATTRIBUTE})
    plan = queue_plan(
        worker_timeout_seconds=WORKER_TIMEOUT_SECONDS,
        max_receive_count=MAX_RECEIVE_COUNT,
        webhook_max_attempts=WEBHOOK_MAX_ATTEMPTS,
    )
    dead = {name: _queue(sqs, f"{prefix}-{name}", {}) for name in dict.fromkeys(s.dead_letters for s in plan)}
    made = {
        spec.name: _queue(sqs, f"{prefix}-{spec.name}", _redrive(dead[spec.dead_letters][1], spec)) for spec in plan
    }
    (queue_url, queue_arn), (items_url, items_arn) = made["tasks"], made["batch-items"]
    (webhook_url, webhook_arn), (batch_url, batch_arn) = made["webhooks"], made["batches"]
    (dlq_url, dlq_arn), (webhook_dlq_url, webhook_dlq_arn) = dead["tasks-dlq"], dead["webhooks-dlq"]
    bucket = f"{prefix}-outputs"
    s3.create_bucket(Bucket=bucket)
    key = clients("kms").create_key(Description=f"{prefix}: seals client secrets")["KeyMetadata"]["Arn"]
    return Resources(
        endpoint=endpoint,
        table_name=table,
        queue_url=queue_url,
        queue_arn=queue_arn,
        dlq_url=dlq_url,
        dlq_arn=dlq_arn,
        bucket_name=bucket,
        stream_arn=stream_arn,
        webhook_queue_url=webhook_url,
        webhook_queue_arn=webhook_arn,
        batch_queue_url=batch_url,
        batch_items_queue_url=items_url,
        batch_items_queue_arn=items_arn,
        webhook_dlq_url=webhook_dlq_url,
        webhook_dlq_arn=webhook_dlq_arn,
        batch_queue_arn=batch_arn,
        sealing_key_id=key,
        priority_queue_url=made["tasks-priority"][0],
        priority_queue_arn=made["tasks-priority"][1],
        flex_queue_url=made["tasks-flex"][0],
        flex_queue_arn=made["tasks-flex"][1],
    )


def _queue(sqs: Any, name: str, attributes: dict[str, str]) -> tuple[str, str]:
    url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    return url, sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


def _redrive(dlq_arn: str, spec: QueueSpec) -> dict[str, str]:
    return {
        "VisibilityTimeout": str(spec.visibility_seconds),
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": spec.max_receives}),
    }


class EmulatorProcess(Emulator):
    """The emulator in a process of its own, as AWS's services are not in the functions' processes: the
    emulator's work and the functions' work each get a core (and a GIL of their own)."""

    def __init__(self, port: int = 0) -> None:
        self._child = Child("infra.local.emulator", str(port))
        self.endpoint = ""

    def start(self) -> str:
        self.endpoint = self._child.start()
        return self.endpoint

    def stop(self) -> None:
        self._child.stop(timeout=10)


def _keep_survivors(phase: str, info: dict[str, int]) -> None:
    """The emulator's heap is the tables' items, and it only grows: each full collection walks all of it
    (tens of milliseconds, every few seconds, the whole emulator stopped meanwhile). What survived one is
    set aside for the next ones; items deleted later are still freed by their reference counts."""
    if phase == "stop" and info["generation"] == 2:
        gc.freeze()


def _serve(port: int) -> None:
    """`python -m infra.local.emulator [PORT]`: serve until the stack stops it."""
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(levelname)s %(name)s %(message)s")
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    gc.callbacks.append(_keep_survivors)
    # Each request is a thread: hand the interpreter over more often, so that a short call (a send, a
    # read) is not held up 5 ms at a time behind each longer one (a transaction, a page of the stream).
    sys.setswitchinterval(0.0005)
    emulator = Emulator(port)
    try:
        ready(emulator.start())
    finally:
        emulator.stop()


if __name__ == "__main__":
    _serve(int(sys.argv[1]) if len(sys.argv) > 1 else 0)
