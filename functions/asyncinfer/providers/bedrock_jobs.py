"""Amazon Bedrock's asynchronous invocations as upstream jobs: Amazon Nova Reel video, written by Bedrock
straight into the task's output prefix (https://docs.aws.amazon.com/nova/latest/userguide/video-gen-access.html).

StartAsyncInvoke takes a client request token, so a start repeated after an interruption is the same job;
GetAsyncInvoke says InProgress, Completed or Failed. Bedrock has no call that stops an async invocation:
a cancelled task's job runs to its end upstream, and its output expires with the bucket's lifecycle."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from asyncinfer.domain.model import TaskKind
from asyncinfer.providers.base import JobState, ProviderError

RETRYABLE = {"ThrottlingException", "ServiceUnavailableException", "InternalServerException"}
# The folder Bedrock writes per invocation holds the video as output.mp4.
VIDEO_FILE = "output.mp4"


class BedrockVideoJobs:
    def __init__(self, client: Any) -> None:
        self._client = client  # boto3 "bedrock-runtime"

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
            answer = self._client.start_async_invoke(
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
            found = self._client.get_async_invoke(invocationArn=job["arn"])
        except ClientError as exc:
            raise _error(exc) from None
        status = found["status"]
        if status == "Completed":
            folder = found["outputDataConfig"]["s3OutputDataConfig"]["s3Uri"].rstrip("/")
            key = folder.removeprefix("s3://").partition("/")[2]
            return JobState("completed", 100.0, (f"{key}/{VIDEO_FILE}",))
        if status == "Failed":
            return JobState("failed", error=found.get("failureMessage") or "The video generation failed")
        return JobState("running")

    def cancel(self, job: dict) -> bool:
        return False


def _error(exc: ClientError) -> ProviderError:
    code = exc.response.get("Error", {}).get("Code", "")
    message = exc.response.get("Error", {}).get("Message", code)
    return ProviderError(
        "provider_error" if code in RETRYABLE else "invalid_request", message, retryable=code in RETRYABLE
    )
