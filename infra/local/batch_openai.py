"""The OpenAI protocol of the local batch stand-in (infra/local/batch_jobs.py): Files (`purpose=batch` uploads, their
content) and Batches (create, retrieve, cancel) as https://platform.openai.com/docs/api-reference/batch describes them
and the official SDK calls them. Chat completions only; answers are the demo chat model's. Files live in memory."""

from __future__ import annotations

import email.parser
import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler
from typing import Any, Protocol

from asyncinfer.providers.base import count_tokens
from asyncinfer.providers.demo.chat import demo_answer

FAIL_MARK = "demo-batch-fail"  # a record whose prompt says this fails (a per-record error, as upstreams report)
WINDOW_SECONDS = 24 * 3600


class Clock(Protocol):
    def fraction(self, started: float) -> float: ...

    def processed(self, started: float, total: int) -> int: ...


def jsonl(data: bytes) -> list[dict[str, Any]]:
    return [json.loads(line) for line in data.decode().splitlines() if line.strip()]


def multipart_fields(content_type: str, body: bytes) -> dict[str, tuple[str | None, bytes]]:
    """A multipart/form-data body's fields: name -> (file name, bytes)."""
    message = email.parser.BytesParser().parsebytes(f"Content-Type: {content_type}\r\n\r\n".encode() + body)
    fields = {}
    for part in message.get_payload():
        name = part.get_param("name", header="content-disposition")
        fields[name] = (part.get_filename(), part.get_payload(decode=True) or b"")
    return fields


def chat_completion(body: dict[str, Any]) -> dict[str, Any]:
    messages = body.get("messages") or []
    users = [m for m in messages if m.get("role") == "user"]
    content = users[-1].get("content") if users else ""
    prompt = content if isinstance(content, str) else " ".join(p.get("text", "") for p in content or [])
    answer = demo_answer(body.get("model", ""), prompt)
    prompt_tokens = sum(count_tokens(m["content"]) for m in messages if isinstance(m.get("content"), str))
    completion_tokens = count_tokens(answer)
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex[:12]}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body.get("model", ""),
        "choices": [{"index": 0, "message": {"role": "assistant", "content": answer}, "finish_reason": "stop"}],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }


class OpenAIBatches:
    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._files: dict[str, dict[str, Any]] = {}
        self._batches: dict[str, dict[str, Any]] = {}
        self._keys: dict[str, str] = {}
        self._lock = threading.RLock()

    @property
    def created(self) -> int:
        return len(self._batches)

    def post(self, request: BaseHTTPRequestHandler, path: str, body: bytes) -> None:
        if path == "/v1/files":
            return _answer(request, *self._upload(request.headers.get("Content-Type", ""), body))
        if path == "/v1/batches":
            return _answer(request, *self._create(json.loads(body or b"{}"), request.headers.get("Idempotency-Key")))
        if path.startswith("/v1/batches/") and path.endswith("/cancel"):
            return _answer(request, *self._cancel(path.split("/")[3]))
        _answer(request, 404, _error("not_found", f"No route {path}"))

    def get(self, request: BaseHTTPRequestHandler, path: str) -> None:
        parts = path.split("?")[0].split("/")
        if path.startswith("/v1/files/") and path.endswith("/content") and parts[3] in self._files:
            data = self._files[parts[3]]["data"]
            request.send_response(200)
            request.send_header("Content-Type", "application/octet-stream")
            request.send_header("Content-Length", str(len(data)))
            request.end_headers()
            request.wfile.write(data)
            return None
        if path.startswith("/v1/files/") and parts[3] in self._files:
            return _answer(request, 200, self._file_object(parts[3]))
        if path.startswith("/v1/batches/") and parts[3] in self._batches:
            return _answer(request, 200, self._read(parts[3]))
        _answer(request, 404, _error("not_found", f"No such object: {path}"))

    def _upload(self, content_type: str, body: bytes) -> tuple[int, dict[str, Any]]:
        fields = multipart_fields(content_type, body)
        purpose = fields.get("purpose", (None, b""))[1].decode()
        name, data = fields.get("file", (None, b""))
        if purpose != "batch" or not data:
            return 400, _error("invalid_request_error", "Expected a file with purpose=batch")
        return 200, self._keep(name or "input.jsonl", data, purpose)

    def _keep(self, name: str, data: bytes, purpose: str) -> dict[str, Any]:
        file_id = f"file-{uuid.uuid4().hex[:16]}"
        self._files[file_id] = {"name": name, "data": data, "purpose": purpose, "created": int(time.time())}
        return self._file_object(file_id)

    def _file_object(self, file_id: str) -> dict[str, Any]:
        found = self._files[file_id]
        return {
            "id": file_id,
            "object": "file",
            "bytes": len(found["data"]),
            "created_at": found["created"],
            "filename": found["name"],
            "purpose": found["purpose"],
            "status": "processed",
        }

    def _create(self, body: dict[str, Any], key: str | None) -> tuple[int, dict[str, Any]]:
        source = self._files.get(body.get("input_file_id", ""))
        if source is None or body.get("endpoint") != "/v1/chat/completions":
            return 400, _error("invalid_request_error", "Expected an uploaded input_file_id and /v1/chat/completions")
        with self._lock:
            if key and key in self._keys:  # the same create again: the same batch
                return 200, self._read(self._keys[key])
            batch_id = f"batch_{uuid.uuid4().hex[:16]}"
            self._batches[batch_id] = {
                "body": body,
                "records": jsonl(source["data"]),
                "created": time.time(),
                "status": None,  # computed from the clock until it ends
            }
            if key:
                self._keys[key] = batch_id
        return 200, self._read(batch_id)

    def _cancel(self, batch_id: str) -> tuple[int, dict[str, Any]]:
        batch = self._batches.get(batch_id)
        if batch is None:
            return 404, _error("not_found", f"No batch {batch_id}")
        with self._lock:
            if batch["status"] is None:
                self._end(batch, "cancelled", self._clock.processed(batch["created"], len(batch["records"])))
        return 200, self._read(batch_id)

    def _read(self, batch_id: str) -> dict[str, Any]:
        batch = self._batches[batch_id]
        total = len(batch["records"])
        with self._lock:
            if batch["status"] is None and self._clock.fraction(batch["created"]) >= 1.0:
                self._end(batch, "completed", total)
        created = int(batch["created"])
        status = batch["status"] or ("validating" if self._clock.fraction(batch["created"]) < 0.05 else "in_progress")
        counts = batch.get("counts") or {"total": total, "completed": 0, "failed": 0}
        if batch["status"] is None and status == "in_progress":
            counts = {**counts, "completed": self._clock.processed(batch["created"], total)}
        body = batch["body"]
        return {
            "id": batch_id,
            "object": "batch",
            "endpoint": body["endpoint"],
            "errors": None,
            "input_file_id": body["input_file_id"],
            "completion_window": body.get("completion_window", "24h"),
            "status": status,
            "output_file_id": batch.get("output_file_id"),
            "error_file_id": batch.get("error_file_id"),
            "created_at": created,
            "in_progress_at": created if status != "validating" else None,
            "expires_at": created + WINDOW_SECONDS,
            "completed_at": int(batch["ended"]) if status == "completed" else None,
            "cancelled_at": int(batch["ended"]) if status == "cancelled" else None,
            "request_counts": counts,
            "metadata": body.get("metadata"),
        }

    def _end(self, batch: dict[str, Any], status: str, done: int) -> None:
        outputs, errors = [], []
        for record in batch["records"][:done]:
            line: dict[str, Any] = {"id": f"batch_req_{uuid.uuid4().hex[:12]}", "custom_id": record.get("custom_id")}
            if FAIL_MARK in json.dumps(record.get("body")):
                failure = _error("invalid_request_error", "The demo record fails (on purpose)")
                errors.append({**line, "response": {"status_code": 400, "body": failure}, "error": None})
            else:
                answer = chat_completion(record.get("body") or {})
                outputs.append({**line, "response": {"status_code": 200, "body": answer}, "error": None})
        for record in batch["records"][done:] if status == "cancelled" else []:
            cancelled = {"code": "batch_cancelled", "message": "The batch was cancelled before this request ran"}
            errors.append({"id": None, "custom_id": record.get("custom_id"), "response": None, "error": cancelled})
        if outputs:
            batch["output_file_id"] = self._keep("output.jsonl", _lines(outputs), "batch_output")["id"]
        if errors:
            batch["error_file_id"] = self._keep("errors.jsonl", _lines(errors), "batch_output")["id"]
        failed = sum(1 for e in errors if e["response"] is not None)
        batch.update(
            status=status,
            ended=time.time(),
            counts={"total": len(batch["records"]), "completed": len(outputs), "failed": failed},
        )


def _lines(rows: list[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(row) + "\n" for row in rows).encode()


def _error(kind: str, message: str) -> dict[str, Any]:
    return {"error": {"type": kind, "message": message, "code": None, "param": None}}


def _answer(request: BaseHTTPRequestHandler, status: int, body: dict[str, Any]) -> None:
    data = json.dumps(body).encode()
    request.send_response(status)
    request.send_header("Content-Type", "application/json")
    request.send_header("Content-Length", str(len(data)))
    request.end_headers()
    request.wfile.write(data)
