"""Feeds the table's stream to a handler the way Lambda's DynamoDB event source mapping does: in order,
only the records its filter selects, failed records retried, then given up (as to an on-failure queue)."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from asyncinfer.store.dynamodb_stream import ended_task
from infra.local.functions import LocalFunctions

log = logging.getLogger("asyncinfer.local.streams")

BATCH_SIZE = 100
MAX_TRIES = 5
# Lambda polls a DynamoDB stream's shards "at a base rate of 4 times per second"
# (https://docs.aws.amazon.com/lambda/latest/dg/with-ddb.html): so does an idle poller here.
IDLE_SECONDS = 0.25
# Shards are listed again this often (new shards open as the stream rolls over); between, their iterators are read.
DESCRIBE_SECONDS = 5.0


def stream_event(records: list[dict[str, Any]], stream_arn: str) -> dict[str, Any]:
    """The Lambda DynamoDB Streams event for records read with GetRecords."""
    return {
        "Records": [
            {
                "eventID": r["eventID"],
                "eventName": r["eventName"],
                "eventVersion": r.get("eventVersion", "1.1"),
                "eventSource": "aws:dynamodb",
                "awsRegion": r.get("awsRegion", stream_arn.split(":")[3]),
                "dynamodb": {k: v for k, v in r["dynamodb"].items() if k != "ApproximateCreationDateTime"},
                "eventSourceARN": stream_arn,
            }
            for r in records
        ]
    }


class StreamPoller:
    def __init__(
        self,
        streams: Any,
        stream_arn: str,
        functions: LocalFunctions,
        function: str,
        idle_seconds: float = IDLE_SECONDS,
    ) -> None:
        self._streams = streams
        self._arn = stream_arn
        self._functions = functions
        self._function = function
        self._idle = idle_seconds
        self._iterators: dict[str, str | None] = {}
        self._shards: list[str] = []
        self._described_at = float("-inf")
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"stream-{function}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                if not self.poll_once():
                    self._stop.wait(self._idle)
            except Exception:
                log.exception("stream poller %s failed; retrying", self._function)
                self._stop.wait(1)

    def poll_once(self) -> int:
        """Read what is new on every shard and hand the selected records over. Returns how many were read."""
        read = 0
        for shard_id in self._shard_ids():
            if shard_id not in self._iterators:
                self._iterators[shard_id] = self._streams.get_shard_iterator(
                    StreamArn=self._arn, ShardId=shard_id, ShardIteratorType="TRIM_HORIZON"
                )["ShardIterator"]
            iterator = self._iterators[shard_id]
            if iterator is None:
                continue
            resp = self._streams.get_records(ShardIterator=iterator, Limit=BATCH_SIZE)
            records = resp.get("Records", [])
            self._iterators[shard_id] = resp.get("NextShardIterator")
            if self._iterators[shard_id] is None:
                self._described_at = float("-inf")  # the shard closed: its successor is listed at once
            read += len(records)
            selected = [r for r in records if ended_task(r) is not None]
            if selected:
                self._deliver(selected)
        return read

    def _shard_ids(self) -> list[str]:
        now = time.monotonic()
        if now - self._described_at >= DESCRIBE_SECONDS:
            shards = self._streams.describe_stream(StreamArn=self._arn)["StreamDescription"]["Shards"]
            self._shards = [shard["ShardId"] for shard in shards]
            self._described_at = now
        return self._shards

    def _deliver(self, records: list[dict[str, Any]]) -> None:
        for attempt in range(1, MAX_TRIES + 1):
            result = self._functions.invoke(self._function, stream_event(records, self._arn))
            failed = {item["itemIdentifier"] for item in (result or {}).get("batchItemFailures", [])}
            if not failed:
                return
            # Lambda retries from the first failed record on; so does this.
            first = next(i for i, r in enumerate(records) if r["dynamodb"]["SequenceNumber"] in failed)
            records = records[first:]
            log.warning("%d stream records failed (try %d of %d)", len(records), attempt, MAX_TRIES)
            self._stop.wait(0.2 * attempt)
        log.error("gave up on %d stream records", len(records))
