"""moto's bugs and costs that AWS does not have, worked around in the emulator: each function patches one of
moto's internals in this process (calling it again changes nothing). infra.local.emulator applies them all when
it is imported, in moto's server and in the tests' in-process moto alike; infra/local/README.md says what each
one works around and how it was found. They reach into moto's internals: pyproject.toml pins moto to a minor
version for that reason, and infra/local/tests hold the emulator to the answers they must keep."""

from __future__ import annotations

import contextlib
import inspect
import json
import threading
from typing import Any

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


def cheap_sqs_sends() -> None:
    """moto's send reads one attribute (content-based deduplication) through all of its queue's attributes,
    whose counts walk every message: a queue of n messages costs n per send, n² to fill it (a 1,000-item batch's
    items queue took minutes on a slow machine). While a send runs, the queue answers that one attribute."""
    from moto.sqs.models import Queue, SQSBackend

    sending = threading.local()
    every = Queue.attributes

    def attributes(self: Any) -> dict[str, Any]:
        if getattr(sending, "on", False):
            return {"ContentBasedDeduplication": str(self.content_based_deduplication).lower()}
        return every.fget(self)  # type: ignore[misc]

    send = SQSBackend.send_message

    def send_message(self: Any, *args: Any, **kwargs: Any) -> Any:
        sending.on = True
        try:
            return send(self, *args, **kwargs)
        finally:
            sending.on = False

    Queue.attributes = property(attributes)  # type: ignore[method-assign,assignment]
    SQSBackend.send_message = send_message  # type: ignore[method-assign]


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
