"""Offline stand-ins for two providers' batch APIs, for `make dev` and tests, on loopback (moto has neither):

- Amazon Bedrock batch inference over boto3's "bedrock" client: CreateModelInvocationJob, GetModelInvocationJob,
  StopModelInvocationJob. Converse records only. The input JSONL is read from the caller's bucket, and the output
  lands where Bedrock writes it, `<output s3Uri>/<job id>/<input file name>.out` plus `manifest.json.out`
  (https://docs.aws.amazon.com/bedrock/latest/userguide/batch-inference-results.html). A job with fewer records than
  the model's minimum is refused with a ValidationException.
- An OpenAI-compatible server's Files and Batches (/v1/files, /v1/batches), as the official `openai` SDK calls them.

A job takes `seconds` in all; its records are processed evenly over that time (which the counts show), and a
stopped or cancelled job writes what it processed. The answers are the demo chat model's. `GET /_jobs` counts the
jobs created (a repeated create with the same token is the same job)."""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote

from asyncinfer.providers.base import count_tokens
from asyncinfer.providers.demo.chat import demo_answer
from infra.local.batch_openai import FAIL_MARK, OpenAIBatches, jsonl
from infra.local.video_jobs import _iso, _reply

# CreateModelInvocationJob's name rules (botocore's service model for bedrock 2023-04-20).
NAME_PATTERNS = {
    "jobName": re.compile(r"[a-zA-Z0-9]{1,63}(-*[a-zA-Z0-9\+\-\.]){0,63}"),
    "clientRequestToken": re.compile(r"[a-zA-Z0-9]{1,256}(-*[a-zA-Z0-9]){0,256}"),
}


class Clock:
    """How far along a job is after `seconds` in all: Submitted, Validating, Scheduled, then InProgress."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def fraction(self, started: float) -> float:
        return 1.0 if self.seconds <= 0 else min(1.0, (time.time() - started) / self.seconds)

    def processed(self, started: float, total: int) -> int:
        return int(total * self.fraction(started))


def converse_output(model: str, converse: dict[str, Any]) -> dict[str, Any]:
    """The demo chat model's answer to a Converse request, shaped as Converse answers."""
    messages = converse.get("messages") or []
    users = [m for m in messages if m.get("role") == "user"]
    prompt = " ".join(b.get("text", "") for b in (users[-1].get("content") if users else []) or [])
    answer = demo_answer(model, prompt)
    prompt_tokens = sum(count_tokens(b.get("text", "")) for m in messages for b in m.get("content") or [])
    usage = {"inputTokens": prompt_tokens, "outputTokens": count_tokens(answer)}
    return {
        "output": {"message": {"role": "assistant", "content": [{"text": answer}]}},
        "stopReason": "end_turn",
        "usage": {**usage, "totalTokens": usage["inputTokens"] + usage["outputTokens"]},
        "metrics": {"latencyMs": 1},
    }


class DemoBatchJobs:
    def __init__(self, s3: Any, seconds: float, min_records: int = 10, region: str = "us-east-1") -> None:
        self._s3 = s3
        self.clock = Clock(seconds)
        self._min_records = min_records
        self._region = region
        self._jobs: dict[str, dict[str, Any]] = {}
        self._tokens: dict[str, str] = {}
        self._lock = threading.RLock()
        self.openai = OpenAIBatches(self.clock)
        jobs = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                return None

            def _body(self) -> bytes:
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

            def do_POST(self) -> None:
                body = self._body()
                if self.path.startswith("/v1/"):
                    return jobs.openai.post(self, self.path, body)
                if self.path == "/model-invocation-job":
                    return _reply(self, *jobs.create(json.loads(body or b"{}")))
                if self.path.endswith("/stop"):
                    return _reply(self, *jobs.stop(self.path.removeprefix("/model-invocation-job/")[: -len("/stop")]))
                _reply(self, 404, {"message": "Unknown operation"}, "UnknownOperationException")

            def do_GET(self) -> None:
                if self.path == "/_jobs":
                    return _reply(self, 200, {"bedrock": len(jobs._jobs), "openai": jobs.openai.created})
                if self.path.startswith("/v1/"):
                    return jobs.openai.get(self, self.path)
                _reply(self, *jobs.describe(self.path.removeprefix("/model-invocation-job/")))

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_port}"

    def start_serving(self) -> None:
        threading.Thread(target=self._server.serve_forever, name="batch-jobs", daemon=True).start()

    def stop_serving(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    @property
    def created(self) -> int:
        """Bedrock jobs created (each token once)."""
        return len(self._jobs)

    def create(self, body: dict[str, Any]) -> tuple[int, dict[str, Any], str | None]:
        for field, pattern in NAME_PATTERNS.items():
            # Bedrock checks these on its side (botocore does not check patterns): a name it would refuse
            # must fail here too.
            if field in body and not pattern.fullmatch(body[field]):
                return 400, {"message": f"{field} does not match {pattern.pattern}"}, "ValidationException"
        if body.get("modelInvocationType") != "Converse":
            return (
                400,
                {"message": "The stand-in runs Converse records only (modelInvocationType)"},
                "ValidationException",
            )
        source = body["inputDataConfig"]["s3InputDataConfig"]["s3Uri"]
        try:
            files = self._inputs(source)
        except Exception as exc:
            return 400, {"message": f"Cannot read the input at {source}: {exc}"}, "ValidationException"
        total = sum(len(records) for records in files.values())
        if total < self._min_records:
            message = f"The input has {total} records, fewer than the minimum of {self._min_records} per job"
            return 400, {"message": message}, "ValidationException"
        with self._lock:
            token = body.get("clientRequestToken")
            if token and token in self._tokens:  # the same create again: the same job
                return 200, {"jobArn": self._tokens[token]}, None
            job_id = uuid.uuid4().hex[:12]
            arn = f"arn:aws:bedrock:{self._region}:000000000000:model-invocation-job/{job_id}"
            self._jobs[job_id] = {
                "arn": arn,
                "body": body,
                "files": files,
                "total": total,
                "started": time.time(),
                "status": None,  # computed from the clock until it ends
            }
            if token:
                self._tokens[token] = arn
        return 200, {"jobArn": arn}, None

    def _inputs(self, uri: str) -> dict[str, list[dict[str, Any]]]:
        bucket, _, key = uri.removeprefix("s3://").partition("/")
        if key.endswith(".jsonl"):
            keys = [key]
        else:
            listed = self._s3.list_objects_v2(Bucket=bucket, Prefix=key).get("Contents", [])
            keys = [o["Key"] for o in listed if o["Key"].endswith(".jsonl")]
        return {k: jsonl(self._s3.get_object(Bucket=bucket, Key=k)["Body"].read()) for k in keys}

    def _job(self, identifier: str) -> dict[str, Any] | None:
        return self._jobs.get(unquote(identifier).rsplit("/", 1)[-1])

    def describe(self, identifier: str) -> tuple[int, dict[str, Any], str | None]:
        job = self._job(identifier)
        if job is None:
            return 404, {"message": "No such job"}, "ResourceNotFoundException"
        with self._lock:
            if job["status"] is None and self.clock.fraction(job["started"]) >= 1.0:
                self._end(job, "Completed")
        status, processed = job["status"], job.get("processed", job["total"])
        if status is None:
            fraction = self.clock.fraction(job["started"])
            status = "Submitted" if fraction < 0.05 else "Validating" if fraction < 0.1 else "InProgress"
            processed = self.clock.processed(job["started"], job["total"]) if status == "InProgress" else 0
        body = job["body"]
        found = {
            "jobArn": job["arn"],
            "jobName": body["jobName"],
            "modelId": body["modelId"],
            "roleArn": body["roleArn"],
            "status": status,
            "submitTime": _iso(job["started"]),
            "lastModifiedTime": _iso(time.time()),
            "inputDataConfig": body["inputDataConfig"],
            "outputDataConfig": body["outputDataConfig"],
            "modelInvocationType": "Converse",
            "timeoutDurationInHours": body.get("timeoutDurationInHours", 24),
            "totalRecordCount": job["total"],
            "processedRecordCount": processed,
            "successRecordCount": job.get("succeeded", 0),
            "errorRecordCount": job.get("errors", 0),
        }
        if body.get("clientRequestToken"):
            found["clientRequestToken"] = body["clientRequestToken"]
        if "ended" in job:
            found["endTime"] = _iso(job["ended"])
        return 200, found, None

    def stop(self, identifier: str) -> tuple[int, dict[str, Any], str | None]:
        job = self._job(identifier)
        if job is None:
            return 404, {"message": "No such job"}, "ResourceNotFoundException"
        with self._lock:
            if job["status"] is not None:
                return 400, {"message": f"The job is {job['status']}"}, "ValidationException"
            self._end(job, "Stopped", self.clock.processed(job["started"], job["total"]))
        return 200, {}, None

    def _end(self, job: dict[str, Any], status: str, limit: int | None = None) -> None:
        """Writes the outputs of the first `limit` records (all of them by default), then the manifest."""
        body = job["body"]
        bucket, _, prefix = body["outputDataConfig"]["s3OutputDataConfig"]["s3Uri"].removeprefix("s3://").partition("/")
        folder = f"{prefix.rstrip('/')}/{job['arn'].rsplit('/', 1)[-1]}".lstrip("/")
        left = job["total"] if limit is None else limit
        succeeded = errors = tokens_in = tokens_out = 0
        for key, records in job["files"].items():
            lines = []
            for record in records[: max(left, 0)]:
                line = {"recordId": record.get("recordId"), "modelInput": record.get("modelInput")}
                if FAIL_MARK in json.dumps(record.get("modelInput")):
                    line["error"] = {"errorCode": 400, "errorMessage": "The demo record fails (on purpose)"}
                    errors += 1
                else:
                    line["modelOutput"] = converse_output(body["modelId"], record.get("modelInput") or {})
                    tokens_in += line["modelOutput"]["usage"]["inputTokens"]
                    tokens_out += line["modelOutput"]["usage"]["outputTokens"]
                    succeeded += 1
                lines.append(json.dumps(line))
            left -= len(records)
            name = key.rsplit("/", 1)[-1]
            self._s3.put_object(Bucket=bucket, Key=f"{folder}/{name}.out", Body="\n".join(lines).encode())
        manifest = {
            "totalRecordCount": job["total"],
            "processedRecordCount": succeeded + errors,
            "successRecordCount": succeeded,
            "errorRecordCount": errors,
            "inputTokenCount": tokens_in,
            "outputTokenCount": tokens_out,
        }
        self._s3.put_object(Bucket=bucket, Key=f"{folder}/manifest.json.out", Body=json.dumps(manifest).encode())
        job.update(status=status, processed=succeeded + errors, succeeded=succeeded, errors=errors, ended=time.time())
