"""A small but real HTTP server speaking the OpenAI wire protocol, scripted by model name, for driving
the official SDK in tests (the SDK itself is never mocked)."""

from __future__ import annotations

import base64
import json
import threading
import time
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import default
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from asyncinfer.providers.demo.media import render_png
from infra.local.video_jobs import render_mp4

WORDS = ["Hello", " from", " a", " real", " server", "."]
TOOL_CALL = {"name": "get_weather", "arguments": '{"city": "Paris"}'}


@dataclass
class Recorded:
    requests: list[dict[str, Any]] = field(default_factory=list)
    calls_by_model: dict[str, int] = field(default_factory=dict)
    # Background responses (the Responses API): id -> the response, and the ids cancelled.
    responses: dict[str, dict[str, Any]] = field(default_factory=dict)
    cancelled: list[str] = field(default_factory=list)
    # Streams of the `trickle` model whose client hung up before the end, by model.
    hung_up: list[str] = field(default_factory=list)
    # Videos (the Videos API): id -> the video object; each read of one still being made advances it.
    videos: dict[str, dict[str, Any]] = field(default_factory=dict)


# Each read of a video being made advances it by this many percent: 25, 50, 75, then completed.
VIDEO_PROGRESS_STEP = 25
BACKGROUND_SECONDS = 1.0  # how long the `bg` model's background responses take; `bg-forever` never ends


def background_response(recorded: Recorded, body: dict) -> dict:
    response_id = f"resp_{len(recorded.responses) + 1}"
    text = "Background answer to: " + " ".join(str(i.get("content")) for i in body.get("input", []))
    recorded.responses[response_id] = {
        "id": response_id,
        "object": "response",
        "created_at": int(time.time()),
        "model": body.get("model"),
        "status": "queued",
        "background": True,
        "_ready_at": time.monotonic() + (1e9 if body.get("model") == "bg-forever" else BACKGROUND_SECONDS),
        "_text": text,
    }
    return shown_response(recorded, response_id)


def shown_response(recorded: Recorded, response_id: str) -> dict:
    response = recorded.responses[response_id]
    if response["status"] in ("queued", "in_progress"):
        response["status"] = "completed" if time.monotonic() >= response["_ready_at"] else "in_progress"
    shown = {k: v for k, v in response.items() if not k.startswith("_")}
    if response["status"] == "completed":
        content = [{"type": "output_text", "text": response["_text"], "annotations": []}]
        shown["output"] = [
            {"type": "message", "id": "msg_1", "status": "completed", "role": "assistant", "content": content}
        ]
        words = len(response["_text"].split())
        shown["usage"] = {
            "input_tokens": 7,
            "output_tokens": words,
            "total_tokens": 7 + words,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens_details": {"reasoning_tokens": 0},
        }
    else:
        shown["output"] = []
    return shown


def _chunk(model: str, delta: dict, finish: str | None = None, usage: dict | None = None, choices=True) -> dict:
    out: dict[str, Any] = {
        "id": "chatcmpl-test",
        "object": "chat.completion.chunk",
        "created": 1700000000,
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}] if choices else [],
    }
    if usage is not None:
        out["usage"] = usage
    return out


USAGE = {"prompt_tokens": 12, "completion_tokens": 6, "total_tokens": 18}


def make_handler(recorded: Recorded):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def _json(self, status: int, body: dict, headers: dict[str, str] | None = None) -> None:
            raw = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(raw)

        def _sse(self, events: list[dict]) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Connection", "close")
            self.end_headers()
            for event in events:
                self.wfile.write(f"data: {json.dumps(event)}\n\n".encode())
                self.wfile.flush()
            self.wfile.write(b"data: [DONE]\n\n")
            self.wfile.flush()
            self.close_connection = True

        def _trickle(self, model: str) -> None:
            """A word every 50 ms for half a minute: long enough for any deadline, and it notes a client
            hanging up (the next write fails)."""
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Connection", "close")
            self.end_headers()
            self.close_connection = True
            try:
                for _ in range(600):
                    self.wfile.write(f"data: {json.dumps(_chunk(model, {'content': ' word'}))}\n\n".encode())
                    self.wfile.flush()
                    time.sleep(0.05)
            except (BrokenPipeError, ConnectionResetError):
                recorded.hung_up.append(model)

        def _form(self) -> dict[str, str]:
            """A multipart/form-data body's text fields (what the SDK sends to POST /v1/videos)."""
            raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            head = f"Content-Type: {self.headers['Content-Type']}\r\n\r\n".encode()
            message = BytesParser(policy=default).parsebytes(head + raw)
            return {
                part.get_param("name", header="content-disposition"): part.get_content()
                for part in message.iter_parts()
            }

        def _video(self) -> None:
            parts = self.path.split("?")[0].rstrip("/").split("/")
            video = recorded.videos.get(parts[3]) if len(parts) > 3 else None
            if video is None:
                return self._json(404, {"error": {"message": "No such video"}})
            if parts[-1] == "content":
                body = render_mp4(video["prompt"], int(video["seconds"]))
                self.send_response(200)
                self.send_header("Content-Type", "video/mp4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return None
            if video["status"] in ("queued", "in_progress"):
                video["progress"] = min(100, video["progress"] + VIDEO_PROGRESS_STEP)
                video["status"] = "completed" if video["progress"] == 100 else "in_progress"
            return self._json(200, video)

        def do_GET(self) -> None:
            if self.path.startswith("/v1/videos/"):
                return self._video()
            response_id = self.path.rsplit("/", 1)[-1].split("?")[0]
            if "/responses/" not in self.path or response_id not in recorded.responses:
                return self._json(404, {"error": {"message": "No such response"}})
            return self._json(200, shown_response(recorded, response_id))

        def do_POST(self) -> None:
            if self.path.rstrip("/") == "/v1/videos":
                form = self._form()
                video_id = f"video_{len(recorded.videos) + 1}"
                recorded.videos[video_id] = {
                    "id": video_id,
                    "object": "video",
                    "created_at": int(time.time()),
                    "model": form.get("model"),
                    "prompt": form["prompt"],
                    "seconds": form.get("seconds", "4"),
                    "size": form.get("size", "720x1280"),
                    "status": "queued",
                    "progress": 0,
                }
                recorded.requests.append({**form, "_path": self.path, "_headers": dict(self.headers)})
                return self._json(200, recorded.videos[video_id])
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
            if self.path.endswith("/cancel") and "/responses/" in self.path:
                response_id = self.path.split("/")[-2]
                if response_id not in recorded.responses:
                    return self._json(404, {"error": {"message": "No such response"}})
                recorded.cancelled.append(response_id)
                recorded.responses[response_id]["status"] = "cancelled"
                return self._json(200, shown_response(recorded, response_id))
            if self.path.endswith("/responses"):
                recorded.requests.append({**body, "_path": self.path, "_headers": dict(self.headers)})
                return self._json(200, background_response(recorded, body))
            body["_path"] = self.path
            body["_auth"] = self.headers.get("Authorization")
            recorded.requests.append(body)
            model = body.get("model", "")
            recorded.calls_by_model[model] = recorded.calls_by_model.get(model, 0) + 1
            if self.path.endswith("/images/generations"):
                size = [int(v) for v in body.get("size", "64x64").split("x")]
                png = render_png(body["prompt"], size[0], size[1])
                data = [{"b64_json": base64.b64encode(png).decode()} for _ in range(body.get("n", 1))]
                return self._json(200, {"created": 1700000000, "data": data})
            if model == "bad":
                return self._json(
                    400, {"error": {"message": "Invalid 'temperature': must be <= 2", "type": "invalid_request_error"}}
                )
            if model == "flaky" and recorded.calls_by_model[model] == 1:
                return self._json(
                    429, {"error": {"message": "Rate limit reached", "type": "rate_limit"}}, {"Retry-After": "0"}
                )
            if model == "down":
                return self._json(503, {"error": {"message": "Overloaded"}})
            if model == "slow":
                time.sleep(3)
            if model.startswith("tool-"):
                return self._sse(tool_script(model, body))
            if model == "trickle":
                return self._trickle(model)
            if not body.get("stream"):
                message: dict[str, Any] = {"role": "assistant", "content": "".join(WORDS)}
                finish = "stop"
                if model == "tools":
                    message = {
                        "role": "assistant",
                        "content": None,
                        "tool_calls": [{"id": "call_1", "type": "function", "function": TOOL_CALL}],
                    }
                    finish = "tool_calls"
                return self._json(
                    200,
                    {
                        "id": "chatcmpl-test",
                        "object": "chat.completion",
                        "created": 1700000000,
                        "model": model,
                        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
                        "usage": USAGE,
                    },
                )
            if model == "tools":
                name, args = TOOL_CALL["name"], TOOL_CALL["arguments"]
                events = [
                    _chunk(
                        model,
                        {
                            "role": "assistant",
                            "tool_calls": [
                                {
                                    "index": 0,
                                    "id": "call_1",
                                    "type": "function",
                                    "function": {"name": name, "arguments": ""},
                                }
                            ],
                        },
                    ),
                    _chunk(model, {"tool_calls": [{"index": 0, "function": {"arguments": args[:8]}}]}),
                    _chunk(model, {"tool_calls": [{"index": 0, "function": {"arguments": args[8:]}}]}),
                    _chunk(model, {}, "tool_calls"),
                    _chunk(model, {}, usage=USAGE, choices=False),
                ]
                return self._sse(events)
            events = [_chunk(model, {"role": "assistant", "content": ""})]
            events += [_chunk(model, {"content": word}) for word in WORDS]
            events += [_chunk(model, {}, "stop"), _chunk(model, {}, usage=USAGE, choices=False)]
            return self._sse(events)

    return Handler


def tool_script(model: str, body: dict) -> list[dict]:
    """Scripted tool-using models: `tool-loop` calls add(2, 3) and lookup("Paris") then answers with the
    results; `tool-error` calls explode() then answers; `tool-forever` never stops calling add."""
    names = {t["function"]["name"].split("__")[-1]: t["function"]["name"] for t in body.get("tools", [])}
    results = [m["content"] for m in body["messages"] if m["role"] == "tool"]
    wanted = {
        "tool-loop": [("add", '{"a": 2, "b": 3}'), ("lookup", '{"city": "Paris"}')],
        "tool-error": [("explode", "{}")],
        "tool-forever": [("add", '{"a": 1, "b": 1}')],
    }[model]
    if results and model != "tool-forever":
        text = "Tool results: " + " | ".join(results)
        return [
            _chunk(model, {"role": "assistant", "content": text}),
            _chunk(model, {}, "stop"),
            _chunk(model, {}, usage=USAGE, choices=False),
        ]
    calls = [
        {
            "index": i,
            "id": f"call_{len(results)}_{i}",
            "type": "function",
            "function": {"name": names[tool], "arguments": args},
        }
        for i, (tool, args) in enumerate(wanted)
    ]
    return [
        _chunk(model, {"role": "assistant", "content": "Let me use the tools.", "tool_calls": calls}),
        _chunk(model, {}, "tool_calls"),
        _chunk(model, {}, usage=USAGE, choices=False),
    ]


class OpenAIServer:
    def __init__(self) -> None:
        self.recorded = Recorded()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(self.recorded))
        self._server.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def __enter__(self) -> OpenAIServer:
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._server.shutdown()
        self._server.server_close()
