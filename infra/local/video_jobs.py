"""An offline stand-in for Amazon Bedrock's asynchronous invocations of Amazon Nova Reel, for `make dev`:
the same API (StartAsyncInvoke, GetAsyncInvoke, over boto3's "bedrock-runtime" client), the same output
(`<s3Uri>/<invocation id>/output.mp4` written into the caller's bucket), after an upstream time of its own.
The video is a real H.264 MP4 (PyAV), frames drawn from the prompt: any player or decoder opens it."""

from __future__ import annotations

import hashlib
import io
import json
import logging
import threading
import time
import uuid
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote

log = logging.getLogger(__name__)
WIDTH, HEIGHT, FPS = 1280, 720, 24


def render_mp4(prompt: str, seconds: int, seed: int | None = None) -> bytes:
    """An H.264 MP4 of `seconds` at 24 fps, 1280x720: a colour sweep whose colours come from the prompt."""
    import av  # the local stack's dependency only: nothing deployed renders video

    digest = hashlib.sha256(f"{prompt}\x00{seed}".encode()).digest()
    out = io.BytesIO()
    with av.open(out, "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        for index in range(seconds * FPS):
            shade = bytes((digest[c] + index * (c + 1)) % 256 for c in range(3))
            frame = av.VideoFrame(WIDTH, HEIGHT, "rgb24")
            frame.planes[0].update(shade * (WIDTH * HEIGHT))
            for packet in stream.encode(frame.reformat(format="yuv420p")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return out.getvalue()


class DemoVideoJobs:
    def __init__(self, s3: Any, seconds: float, region: str = "us-east-1", output_lag: float = 0.0) -> None:
        self._s3 = s3
        self._seconds = seconds
        # Seconds between reading Completed and output.mp4 being in the bucket (a late output, for tests).
        self._output_lag = output_lag
        self._region = region
        self._jobs: dict[str, dict[str, Any]] = {}
        self._tokens: dict[str, str] = {}
        self._lock = threading.Lock()
        jobs = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                return None

            def do_POST(self) -> None:
                if self.path != "/async-invoke":
                    return _reply(self, 404, {"message": "Unknown operation"})
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
                status, answer = jobs.start(body)
                _reply(self, status, answer)

            def do_GET(self) -> None:
                arn = unquote(self.path.removeprefix("/async-invoke/"))
                found = jobs.describe(arn)
                if found is None:
                    return _reply(self, 404, {"message": "No such invocation"}, "ResourceNotFoundException")
                _reply(self, 200, found)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_port}"

    def start_serving(self) -> None:
        threading.Thread(target=self._server.serve_forever, name="video-jobs", daemon=True).start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def start(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        model_input = body.get("modelInput") or {}
        text = (model_input.get("textToVideoParams") or {}).get("text")
        generation = model_input.get("videoGenerationConfig") or {}
        uri = ((body.get("outputDataConfig") or {}).get("s3OutputDataConfig") or {}).get("s3Uri", "")
        if model_input.get("taskType") != "TEXT_VIDEO" or not text or not uri.startswith("s3://"):
            return 400, {"message": "Expected a TEXT_VIDEO task with text and an s3Uri"}
        with self._lock:
            token = body.get("clientRequestToken")
            if token and token in self._tokens:  # the same start again: the same job
                return 200, {"invocationArn": self._tokens[token]}
            job_id = uuid.uuid4().hex[:12]
            arn = f"arn:aws:bedrock:{self._region}:000000000000:async-invoke/{job_id}"
            self._jobs[arn] = {
                "id": job_id,
                "model": body.get("modelId"),
                "token": token,
                "folder": f"{uri.rstrip('/')}/{job_id}",
                "submitted": time.time(),
                "status": "InProgress",
            }
            if token:
                self._tokens[token] = arn
        seconds = int(generation.get("durationSeconds", 6))
        timer = threading.Timer(self._seconds, self._finish, (arn, text, seconds, generation.get("seed")))
        timer.daemon = True
        timer.start()
        return 200, {"invocationArn": arn}

    def _finish(self, arn: str, text: str, seconds: int, seed: int | None) -> None:
        job = self._jobs[arn]
        try:
            bucket, _, prefix = job["folder"].removeprefix("s3://").partition("/")
            video = render_mp4(text, seconds, seed)
            if self._output_lag:
                job.update(status="Completed", ended=time.time())
                time.sleep(self._output_lag)  # this thread plays Bedrock's late write
            self._s3.put_object(Bucket=bucket, Key=f"{prefix}/output.mp4", Body=video, ContentType="video/mp4")
            job.update(status="Completed", written=True)
        except Exception as exc:  # a failed generation, as Bedrock reports one
            log.warning("demo video job %s failed", arn, exc_info=True)
            job.update(status="Failed", failure=str(exc))
        job.setdefault("ended", time.time())

    def early_reads(self) -> int:
        """How many GetAsyncInvoke answers said Completed before the job's output.mp4 was written."""
        return sum(job.get("early_reads", 0) for job in self._jobs.values())

    def describe(self, arn: str) -> dict[str, Any] | None:
        job = self._jobs.get(arn)
        if job is None:
            return None
        found: dict[str, Any] = {
            "invocationArn": arn,
            "modelArn": f"arn:aws:bedrock:{self._region}::foundation-model/{job['model']}",
            "status": job["status"],
            "submitTime": _iso(job["submitted"]),
            "outputDataConfig": {"s3OutputDataConfig": {"s3Uri": job["folder"]}},
        }
        if job.get("token"):
            found["clientRequestToken"] = job["token"]
        if "ended" in job:
            found["endTime"] = _iso(job["ended"])
        if job["status"] == "Completed" and not job.get("written"):
            job["early_reads"] = job.get("early_reads", 0) + 1
        if "failure" in job:
            found["failureMessage"] = job["failure"]
        return found


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _reply(request: BaseHTTPRequestHandler, status: int, body: dict[str, Any], error: str | None = None) -> None:
    data = json.dumps(body).encode()
    request.send_response(status)
    request.send_header("Content-Type", "application/json")
    request.send_header("Content-Length", str(len(data)))
    if error:
        request.send_header("X-Amzn-ErrorType", error)
    request.end_headers()
    request.wfile.write(data)
