"""botocore's Stubber for Bedrock, with ConverseStream answered by a real AWS event stream: the events
are validated against the service model, encoded in the binary event-stream format, and parsed back
by botocore's own EventStream, exactly as a live response would be."""

from __future__ import annotations

import json
import struct
import zlib
from typing import Any

from botocore.eventstream import EventStream
from botocore.parsers import EventStreamJSONParser
from botocore.stub import Stubber
from botocore.validate import validate_parameters


def _header(name: str, value: str) -> bytes:
    raw_name, raw_value = name.encode(), value.encode()
    return bytes([len(raw_name)]) + raw_name + b"\x07" + struct.pack(">H", len(raw_value)) + raw_value


def encode_message(headers: dict[str, str], payload: bytes) -> bytes:
    raw_headers = b"".join(_header(k, v) for k, v in headers.items())
    total = 12 + len(raw_headers) + len(payload) + 4
    prelude = struct.pack(">II", total, len(raw_headers))
    prelude += struct.pack(">I", zlib.crc32(prelude) & 0xFFFFFFFF)
    message = prelude + raw_headers + payload
    return message + struct.pack(">I", zlib.crc32(message) & 0xFFFFFFFF)


def encode_event(event: dict[str, Any]) -> bytes:
    ((event_type, payload),) = event.items()
    headers = {":event-type": event_type, ":content-type": "application/json", ":message-type": "event"}
    return encode_message(headers, json.dumps(payload).encode())


def encode_exception(code: str, message: str) -> bytes:
    headers = {":exception-type": code, ":content-type": "application/json", ":message-type": "exception"}
    return encode_message(headers, json.dumps({"message": message}).encode())


class _Raw:
    def __init__(self, data: bytes, chunk: int = 17) -> None:
        self._data, self._chunk = data, chunk  # odd-sized chunks: messages straddle reads
        self.closed = False

    def stream(self):
        for start in range(0, len(self._data), self._chunk):
            yield self._data[start : start + self._chunk]

    def close(self) -> None:
        self.closed = True


class BedrockStubber(Stubber):
    """Stubber whose ConverseStream responses are real EventStreams (validated event by event)."""

    def add_converse_stream(
        self, events: list[dict[str, Any]], expected_params: dict[str, Any], *, exception: tuple[str, str] | None = None
    ) -> _Raw:
        shape = self.client.meta.service_model.operation_model("ConverseStream").output_shape.members["stream"]
        for event in events:
            validate_parameters(event, shape)
        data = b"".join(encode_event(e) for e in events)
        if exception:
            data += encode_exception(*exception)
        raw = _Raw(data)
        stream = EventStream(raw, shape, EventStreamJSONParser(), "ConverseStream")
        self._add_response("converse_stream", {"stream": stream}, expected_params)
        return raw

    def _validate_response(self, shape, response):
        if isinstance(response.get("stream"), EventStream):
            return  # its events were validated one by one in add_converse_stream
        super()._validate_response(shape, response)
