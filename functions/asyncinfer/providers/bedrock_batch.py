"""Amazon Bedrock batch inference as a model's batch jobs: Converse records in S3 JSONL (`recordId` = the item's
index, `modelInput` = the Converse request, https://docs.aws.amazon.com/bedrock/latest/userguide/batch-inference-data.html),
CreateModelInvocationJob with the deployment's service role, GetModelInvocationJob, StopModelInvocationJob
(only processed tokens are charged), and the output `<output>/<job id>/<input name>.out`
(https://docs.aws.amazon.com/bedrock/latest/userguide/batch-inference-results.html)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from asyncinfer.domain.requests import ChatRequest
from asyncinfer.providers.batch_jobs import BatchJobState, BatchRecord, RecordResult
from asyncinfer.providers.bedrock_provider import FINISH, _usage, classify, converse_params

RUNNING = frozenset({"Submitted", "Validating", "Scheduled", "InProgress", "Stopping"})
ENDED = frozenset({"Completed", "PartiallyCompleted", "Stopped", "Expired"})
# Bedrock's shortest job timeout (CreateModelInvocationJob: 24 to 168 hours); our own deadline stops it sooner.
TIMEOUT_HOURS = 24


def record_id(index: int) -> str:
    """An 11-character alphanumeric id, as Bedrock's examples spell them."""
    return f"{index:011d}"


class BedrockBatchJobs:
    def __init__(self, bedrock: Any, s3: Any, role_arn: str) -> None:
        self._bedrock = bedrock  # boto3.client("bedrock"): the control plane
        self._s3 = s3
        self._role_arn = role_arn

    def prepare(self, upstream_model: str, records: list[BatchRecord]) -> bytes:
        lines = []
        for record in records:
            params = converse_params(upstream_model, ChatRequest.model_validate(record.request))
            params.pop("modelId")
            lines.append(json.dumps({"recordId": record_id(record.index), "modelInput": params}))
        return "".join(line + "\n" for line in lines).encode()

    def start(self, upstream_model: str, data: bytes, input_uri: str, output_uri: str, token: str) -> dict[str, Any]:
        try:
            answer = self._bedrock.create_model_invocation_job(
                jobName=token,
                roleArn=self._role_arn,
                clientRequestToken=token,
                modelId=upstream_model,
                modelInvocationType="Converse",
                inputDataConfig={"s3InputDataConfig": {"s3Uri": input_uri, "s3InputFormat": "JSONL"}},
                outputDataConfig={"s3OutputDataConfig": {"s3Uri": output_uri}},
                timeoutDurationInHours=TIMEOUT_HOURS,
            )
        except (ClientError, BotoCoreError) as exc:
            raise classify(exc) from exc
        arn = answer["jobArn"]
        name = input_uri.rsplit("/", 1)[-1]
        return {"api": "bedrock", "arn": arn, "output": f"{output_uri.rstrip('/')}/{arn.rsplit('/', 1)[-1]}/{name}.out"}

    def poll(self, job: dict[str, Any]) -> BatchJobState:
        try:
            found = self._bedrock.get_model_invocation_job(jobIdentifier=job["arn"])
        except (ClientError, BotoCoreError) as exc:
            raise classify(exc) from exc
        status = found["status"]
        state = "running" if status in RUNNING else "ended" if status in ENDED else "failed"
        return BatchJobState(
            state=state,
            status=status,
            processed=found.get("processedRecordCount") or 0,
            total=found.get("totalRecordCount") or 0,
            error=found.get("message") if state == "failed" else None,
            started_ms=_epoch_ms(found.get("submitTime")),
        )

    def results(self, job: dict[str, Any]) -> Iterator[RecordResult]:
        bucket, _, key = job["output"].removeprefix("s3://").partition("/")
        try:
            body = self._s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                return  # nothing was processed (stopped or expired before it began)
            raise classify(exc) from exc
        for line in body.decode().splitlines():
            if line.strip():
                yield _result(json.loads(line))

    def stop(self, job: dict[str, Any]) -> None:
        try:
            self._bedrock.stop_model_invocation_job(jobIdentifier=job["arn"])
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ValidationException":  # already ended
                raise classify(exc) from exc


def _result(line: dict[str, Any]) -> RecordResult:
    index = int(line["recordId"])
    error = line.get("error")
    if error is not None or "modelOutput" not in line:
        error = error or {}
        code = "provider_rejected" if 400 <= int(error.get("errorCode") or 500) < 500 else "provider_error"
        return RecordResult(index, code=code, message=str(error.get("errorMessage") or "The record failed upstream"))
    output = line["modelOutput"]
    blocks = ((output.get("output") or {}).get("message") or {}).get("content") or []
    text = "".join(block.get("text", "") for block in blocks)
    finish = FINISH.get(output.get("stopReason", "end_turn"), "stop")
    return RecordResult(index, text=text, finish_reason=finish, usage=_usage(output.get("usage")))


def _epoch_ms(at: Any) -> int | None:
    """botocore parses the job's `submitTime` into a datetime."""
    return int(at.timestamp() * 1000) if isinstance(at, datetime) else None
