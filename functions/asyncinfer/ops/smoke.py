"""`asyncinfer smoke --url URL --key KEY`: after a deploy (or against `make dev`), each surface's reference
request end to end over HTTPS, as a client would send it. One line per check, with its time; any failure
makes the run fail. Every wait is bounded."""

from __future__ import annotations

import io
import re
import struct
import time
import uuid
import wave
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx2

from asyncinfer.ops.sse import sse_events

# The reference requests of the four pages, with the model ids they use (served by the demo models of the
# packaged registry, locally and on a default deployment).
ASYNC_REQUEST = {
    "model": "mirothinker-1-7-deepresearch-mini",
    "messages": [
        {"role": "user", "content": "Write a detailed research report on quantum computing advances in 2026."}
    ],
}
PERPLEXITY_REQUEST = {"model": "demo-chat", "messages": [{"role": "user", "content": "What is the capital of France?"}]}
PRIVATEGPT_REQUEST = {
    "messages": [{"role": "user", "content": "Summarize our Q3 report in three bullet points."}],
    "temperature": 0.2,
    "max_tokens": 512,
    "correlation_id": "smoke",
}
IMAGE_REQUEST = {
    "model": "Qwen/Qwen-Image",
    "config": {"prompt": "Generate a cup of coffee", "image_size": "square", "num_images": 1, "output_format": "png"},
}
# A long task of two steps on the runner: the demo deep-research model's one search, then its report
# (providers/demo/research.py: `demo_research.steps` counts the searches), each turn streamed at once.
LONG_TASK_REQUEST = {
    "model": "demo-deep-research",
    "messages": [{"role": "user", "content": "How do durable functions checkpoint a long task?"}],
    "demo_research": {"steps": 1, "step_seconds": 0},
}
LONG_TASK_STEPS = 2
# What a deployment that cannot run it answers at submit: no such model, no runner, a model of make dev only.
NOT_SERVED = {"unknown_model", "long_tasks_unavailable", "local_only_model"}
AUDIO_REQUEST = {"model": "hkchengrex/MMAudio", "config": {"prompt": "Rain on a tin roof", "duration": 1}}
ENDED = {"COMPLETED", "FAILED", "CANCELLED", "completed", "failed", "cancelled"}
# A private API's base URL through one of its VPC endpoints (the stack's ApiUrlVpce... outputs,
# https://docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-private-api-test-invoke-url.html).
PRIVATE_URL_FORM = "https://{api-id}-{vpce-id}.execute-api.{region}.amazonaws.com/{stage}/"
_API_GATEWAY_HOST = re.compile(r"\.(execute-api\.[a-z0-9-]+|vpce)\.amazonaws\.com(\.cn)?$")
_UNREACHED = (httpx2.ConnectError, httpx2.ConnectTimeout)


class SmokeFailure(Exception):
    pass


class Skipped(Exception):
    """The deployment does not serve what the check needs: said on its line, not a failure."""


@dataclass(frozen=True)
class Line:
    name: str
    ok: bool
    seconds: float
    detail: str
    skipped: bool = False


def expect(condition: Any, message: str) -> None:
    if not condition:
        raise SmokeFailure(message)


def decode_png(data: bytes) -> tuple[int, int]:
    """Width and height of a PNG, after checking every chunk's CRC and inflating its pixels."""
    expect(data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG (bad signature)")
    pos, header, pixels = 8, None, b""
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])
        expect(zlib.crc32(kind + body) == crc, f"PNG chunk {kind!r} has a bad CRC")
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            pixels += body
        pos += 12 + length
    expect(header, "PNG without IHDR")
    width, height, depth, colour = header[:4]
    channels = {0: 1, 2: 3, 4: 2, 6: 4}.get(colour)
    expect(channels and depth == 8, f"unexpected PNG format (colour {colour}, depth {depth})")
    expect(len(zlib.decompress(pixels)) == height * (1 + width * channels), "PNG pixel data has the wrong size")
    return width, height


def decode_wav(data: bytes) -> float:
    """Duration in seconds of a WAV file, read by the standard library's decoder."""
    with wave.open(io.BytesIO(data)) as wav:
        frames = wav.readframes(wav.getnframes())
        expect(len(frames) == wav.getnframes() * wav.getsampwidth() * wav.getnchannels(), "truncated WAV")
        return wav.getnframes() / wav.getframerate()


class Smoke:
    def __init__(self, url: str, key: str, *, webhook: str | None = None, timeout: float = 180) -> None:
        self.client = httpx2.Client(
            base_url=url.rstrip("/"), headers={"Authorization": f"Bearer {key}"}, timeout=httpx2.Timeout(30)
        )
        self.webhook = webhook
        self.timeout = timeout

    def run(self, report: Callable[[Line], None] = lambda line: None) -> list[Line]:
        lines = []
        for name, check in self.checks():
            started, skipped = time.monotonic(), False
            try:
                detail, ok = check(), True
            except Skipped as exc:
                detail, ok, skipped = f"skipped: {exc}", True, True
            except (SmokeFailure, httpx2.HTTPError, ValueError, KeyError) as exc:
                detail, ok = f"{type(exc).__name__}: {exc}" if not isinstance(exc, SmokeFailure) else str(exc), False
                if isinstance(exc, _UNREACHED) and (hint := unreachable_hint(str(exc.request.url))):
                    detail = f"{detail.rstrip('.')}. {hint}"
            line = Line(name, ok, time.monotonic() - started, detail, skipped)
            lines.append(line)
            report(line)
        return lines

    def checks(self) -> Iterator[tuple[str, Callable[[], str]]]:
        yield "docs", self.docs
        yield "async: submit, poll, list", self.async_lifecycle
        yield "async: cancel", self.async_cancel
        yield "async: SSE stream, resumed", self.async_stream
        yield "long task: two steps on the runner", self.long_task
        yield "perplexity: submit, poll, list", self.perplexity
        yield "privategpt: submit, SSE stream, status", self.privategpt
        yield "netmind: image, PNG decoded", self.image
        yield "netmind: audio, WAV decoded, delete", self.audio
        if self.webhook:
            yield "webhook: delivered", self.webhook_delivery

    def _json(self, method: str, path: str, status: int = 200, **kwargs: Any) -> Any:
        response = self.client.request(method, path, **kwargs)
        expect(response.status_code == status, f"{method} {path}: HTTP {response.status_code} {response.text[:300]}")
        return response.json()

    def _until(self, read: Callable[[], dict], done: Callable[[dict], bool], what: str) -> dict:
        deadline, delay = time.monotonic() + self.timeout, 0.25
        while True:
            found = read()
            if done(found):
                return found
            expect(time.monotonic() < deadline, f"{what} not done after {self.timeout:.0f} s (last: {found})")
            time.sleep(delay)
            delay = min(delay * 1.5, 3)

    def _poll(self, path: str, field: str = "status") -> dict:
        return self._until(lambda: self._json("GET", path), lambda t: t.get(field) in ENDED, path)

    def docs(self) -> str:
        document = self._json("GET", "/openapi.json")
        expect(str(document.get("openapi", "")).startswith("3."), "/openapi.json is not an OpenAPI 3 document")
        page = self.client.get("/docs")
        expect(page.status_code == 200 and "<html" in page.text.lower(), f"/docs: HTTP {page.status_code}")
        return f"{len(document.get('paths', {}))} paths documented, /docs serves HTML"

    def async_lifecycle(self) -> str:
        task = self._json("POST", "/v1/async", json=ASYNC_REQUEST)
        expect(task["status"] == "CREATED", f"submit answered {task['status']}")
        done = self._poll(f"/v1/async/{task['id']}")
        expect(done["status"] == "COMPLETED", f"ended {done['status']}: {done.get('error')}")
        answer = done["choices"][0]["message"]["content"]
        expect(answer, "completed with an empty answer")
        listed = self._json("GET", "/v1/async", params={"limit": 20})
        expect(task["id"] in {t["id"] for t in listed["tasks"]}, "the task is missing from the list")
        return f"{task['id']} COMPLETED, {len(answer)} characters, listed"

    def async_cancel(self) -> str:
        task = self._json("POST", "/v1/async", json=ASYNC_REQUEST)
        cancelled = self._json("POST", f"/v1/async/{task['id']}/cancel")
        expect(cancelled["status"] == "CANCELLED", f"cancel answered {cancelled['status']}")
        expect(self._json("GET", f"/v1/async/{task['id']}")["status"] == "CANCELLED", "reads back not cancelled")
        return f"{task['id']} CANCELLED"

    def _events(self, path: str, last_event_id: str | None = None) -> list[dict]:
        headers = {"Last-Event-ID": last_event_id} if last_event_id else {}
        with self.client.stream("GET", path, headers=headers, timeout=httpx2.Timeout(30, read=self.timeout)) as r:
            expect(r.status_code == 200, f"GET {path}: HTTP {r.status_code}")
            expect(r.headers.get("content-type", "").startswith("text/event-stream"), "not an event stream")
            return list(sse_events(r))

    def async_stream(self) -> str:
        task = self._json("POST", "/v1/async", json=ASYNC_REQUEST)
        path = f"/v1/async/{task['id']}/events"
        events = self._events(path)
        expect(events and events[-1].get("event") == "end", "the stream did not end with an end event")
        numbered = [e for e in events if "id" in e]
        expect(len(numbered) >= 2, f"only {len(numbered)} numbered events")
        ids = [int(e["id"]) for e in numbered]
        expect(ids == list(range(ids[0], ids[0] + len(ids))), f"sequence numbers not contiguous: {ids}")
        cut = numbered[len(numbered) // 2]["id"]
        resumed = [e for e in self._events(path, last_event_id=cut) if "id" in e]
        expect(
            resumed == numbered[numbered.index(next(e for e in numbered if e["id"] == cut)) + 1 :],
            f"resuming after {cut} did not give exactly the events after it",
        )
        return f"{len(numbered)} events, contiguous; resumed after {cut}: {len(resumed)} events"

    def long_task(self) -> str:
        """Two checkpointed steps on the long-task runner; its steps and times as the API reports them."""
        model = LONG_TASK_REQUEST["model"]
        found = self.client.get(f"/v1/models/{model}")
        if found.status_code == 404:
            raise Skipped(f"this deployment's registry has no {model}, the long-task model this check runs")
        expect(found.status_code == 200, f"GET /v1/models/{model}: HTTP {found.status_code} {found.text[:300]}")
        submitted = self.client.post("/v1/async", json=LONG_TASK_REQUEST)
        error = (submitted.json().get("error") or {}) if submitted.status_code == 400 else {}
        if error.get("code") in NOT_SERVED:
            raise Skipped(f"{error['code']}: {error.get('message')}")
        expect(submitted.status_code == 200, f"POST /v1/async: HTTP {submitted.status_code} {submitted.text[:300]}")
        task_id = submitted.json()["id"]
        done = self._poll(f"/v1/async/{task_id}")
        expect(done["status"] == "COMPLETED", f"{task_id} ended {done['status']}: {done.get('error')}")
        progress = done.get("progress") or {}
        steps = (progress.get("step"), progress.get("steps"))
        expect(steps == (LONG_TASK_STEPS,) * 2, f"{task_id} reports steps {steps}, not 2 of 2: {progress}")
        created, started, ended = (
            datetime.fromisoformat(done[f]) for f in ("created_at", "started_at", "completed_at")
        )
        return (
            f"{task_id} COMPLETED, step {steps[0]} of {steps[1]}, ran {(ended - started).total_seconds():.0f} s "
            f"(started {(started - created).total_seconds():.0f} s after its submit)"
        )

    def perplexity(self) -> str:
        key = f"smoke-{uuid.uuid4().hex}"
        task = self._json(
            "POST", "/async/chat/completions", json={"request": PERPLEXITY_REQUEST, "idempotency_key": key}
        )
        expect(task["status"] == "CREATED", f"submit answered {task['status']}")
        done = self._poll(f"/async/chat/completions/{task['id']}")
        expect(done["status"] == "COMPLETED", f"ended {done['status']}: {done.get('error_message')}")
        expect(done["response"]["choices"][0]["message"]["content"], "completed with an empty answer")
        listed = self._json("GET", "/async/chat/completions", params={"limit": 20})
        expect(task["id"] in {t["id"] for t in listed["requests"]}, "the request is missing from the list")
        return f"{task['id']} COMPLETED, cost {done['response']['usage'].get('cost', {}).get('total_cost')}"

    def privategpt(self) -> str:
        message_id = f"smoke-{uuid.uuid4().hex[:12]}"
        self._json("POST", "/v1/messages/async", params={"message_id": message_id}, json=PRIVATEGPT_REQUEST)
        events = self._events(f"/v1/messages/async/{message_id}/stream")
        expect(events and events[-1]["data"] == "[DONE]", "the stream did not end with [DONE]")
        status = self._json("GET", f"/v1/messages/async/{message_id}/status")
        expect(status["status"] == "completed", f"status {status['status']}")
        return f"{message_id} completed, {len(events)} stream events"

    def _generation(self, request: dict) -> tuple[str, bytes]:
        task = self._json("POST", "/v1/generation", json=request)
        done = self._poll(f"/v1/generation/{task['id']}")
        expect(done["status"] == "completed", f"ended {done['status']}: {done.get('error')}")
        (output,) = done["result"]["data"]
        download = httpx2.get(output["url"], timeout=60)  # presigned: no key
        expect(download.status_code == 200, f"download: HTTP {download.status_code}")
        return task["id"], download.content

    def image(self) -> str:
        task_id, data = self._generation(IMAGE_REQUEST)
        width, height = decode_png(data)
        return f"{task_id}: {width}x{height} PNG, {len(data)} bytes"

    def audio(self) -> str:
        task_id, data = self._generation(AUDIO_REQUEST)
        seconds = decode_wav(data)
        expect(abs(seconds - AUDIO_REQUEST["config"]["duration"]) < 0.1, f"{seconds:.2f} s of audio, not 1 s")
        deleted = self._json("DELETE", f"/v1/generation/{task_id}")
        expect(deleted == {"message": "Generation deleted"}, f"delete answered {deleted}")
        expect(self._json("GET", f"/v1/generation/{task_id}")["is_deleted"] is True, "reads back not deleted")
        return f"{task_id}: {seconds:.2f} s WAV, deleted"

    def webhook_delivery(self) -> str:
        webhook = {"url": self.webhook, "events": ["task.completed"]}
        task = self._json("POST", "/v1/async", json={**PERPLEXITY_REQUEST, "webhook": webhook})
        path = "/v1/webhooks/deliveries"

        def deliveries() -> dict:
            return self._json("GET", path, params={"task_id": task["id"]})

        found = self._until(
            deliveries, lambda d: any(x["status"] != "pending" for x in d["data"]), "the webhook delivery"
        )
        (delivery,) = found["data"]
        expect(delivery["status"] == "delivered", f"delivery {delivery['id']} {delivery['status']}")
        return f"{delivery['id']} delivered to {self.webhook}"


def unreachable_hint(url: str) -> str:
    """What a connection that failed to API Gateway's hosts may mean: the API is private (empty for others)."""
    host = httpx2.URL(url).host.lower()
    if not _API_GATEWAY_HOST.search(host):
        return ""
    return (
        "A private API answers only from inside its VPC, through its VPC endpoint: run smoke on a host there, "
        f"with --url {PRIVATE_URL_FORM}"
    )


def render(line: Line) -> str:
    mark = "-" if line.skipped else "✓" if line.ok else "✗"
    return f"{mark} {line.name:<40} {line.seconds:6.2f} s  {line.detail}"
