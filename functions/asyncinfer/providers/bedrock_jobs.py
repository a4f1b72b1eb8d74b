"""Amazon Bedrock's asynchronous invocations as upstream jobs: Amazon Nova Reel video, written by Bedrock
straight into the task's output prefix (https://docs.aws.amazon.com/nova/latest/userguide/video-gen-access.html).

StartAsyncInvoke takes a client request token, so a start repeated after an interruption is the same job;
GetAsyncInvoke says InProgress, Completed or Failed. Bedrock has no call that stops an async invocation:
a cancelled task's job runs to its end upstream, and its output expires with the bucket's lifecycle.
Bedrock's page does not say that output.mp4 is in the bucket when GetAsyncInvoke first says Completed: a job
whose file is not there yet reads as still running, up to LATE_OUTPUT_SECONDS after its endTime."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from asyncinfer.domain.model import TaskKind
from asyncinfer.providers.base import JobState, ProviderError

RETRYABLE = {"ThrottlingException", "ServiceUnavailableException", "InternalServerException"}
VIDEO_FILE = "output.mp4"  # The folder Bedrock writes per invocation holds the video as output.mp4.
LATE_OUTPUT_SECONDS = 300.0


@dataclass
class BedrockVideoJobs:
    client: Any  # boto3 "bedrock-runtime"
    output_exists: Callable[[str], bool] | None = None
    late_output_seconds: float = LATE_OUTPUT_SECONDS

    def start(self, upstream_model: str, kind: TaskKind, config: dict[str, Any], output_uri: str, token: str) -> dict:
        if kind != TaskKind.VIDEO:
            raise ProviderError("invalid_request", f"{upstream_model} makes videos only", retryable=False)
        if config.get("duration", 6) != 6:
            raise ProviderError(
                "invalid_request",
                "Nova Reel's text-to-video makes 6-second videos (config.duration 6)",
                retryable=False,
            )
        generation: dict[str, Any] = {"durationSeconds": 6, "fps": config.get("fps", 24), "dimension": "1280x720"}
        if config.get("seed") is not None:
            generation["seed"] = config["seed"]
        try:
            answer = self.client.start_async_invoke(
                modelId=upstream_model,
                modelInput={
                    "taskType": "TEXT_VIDEO",
                    "textToVideoParams": {"text": config["prompt"]},
                    "videoGenerationConfig": generation,
                },
                outputDataConfig={"s3OutputDataConfig": {"s3Uri": output_uri}},
                clientRequestToken=token,
            )
        except ClientError as exc:
            raise _error(exc) from None
        return {"arn": answer["invocationArn"]}

    def poll(self, job: dict) -> JobState:
        try:
            found = self.client.get_async_invoke(invocationArn=job["arn"])
        except ClientError as exc:
            raise _error(exc) from None
        status = found["status"]
        if status == "Completed":
            folder = found["outputDataConfig"]["s3OutputDataConfig"]["s3Uri"].rstrip("/")
            key = f"{folder.removeprefix('s3://').partition('/')[2]}/{VIDEO_FILE}"
            if self.output_exists is None or self.output_exists(key):
                return JobState("completed", 100.0, (key,))
            return self._late(found)
        if status == "Failed":
            return JobState("failed", error=found.get("failureMessage") or "The video generation failed")
        return JobState("running")

    def cancel(self, job: dict) -> bool:
        return False

    def _late(self, found: dict) -> JobState:
        ended = found.get("endTime")
        waited = time.time() - _epoch(ended) if ended is not None else 0.0
        if waited <= self.late_output_seconds:
            return JobState("running")  # done upstream, its file not yet here: no figure to claim
        return JobState(
            "failed",
            error=f"Bedrock reported the video complete but its {VIDEO_FILE} did not appear within "
            f"{self.late_output_seconds:.0f} s",
        )


def _epoch(value: datetime | str) -> float:
    """botocore parses GetAsyncInvoke's timestamps into datetimes; a raw ISO string is taken too."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return value.timestamp()


def _error(exc: ClientError) -> ProviderError:
    code = exc.response.get("Error", {}).get("Code", "")
    message = exc.response.get("Error", {}).get("Message", code)
    return ProviderError(
        "provider_error" if code in RETRYABLE else "invalid_request", message, retryable=code in RETRYABLE
    )
