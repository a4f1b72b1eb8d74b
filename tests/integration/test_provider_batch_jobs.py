"""The batch-job adapters against the local stand-ins, with the real clients: boto3's "bedrock" control plane
(CreateModelInvocationJob, GetModelInvocationJob, StopModelInvocationJob) over S3 JSONL in moto, and the official
`openai` SDK's Files and Batches. What is checked: one upstream job per token, the minimum record count, results
joined back per item (answers, usage, per-record errors), and a stopped job keeping what it processed."""

from __future__ import annotations

import time

import boto3
import pytest
from moto import mock_aws

from asyncinfer.providers.base import ProviderError
from asyncinfer.providers.batch_factory import DEMO_ROLE_ARN
from asyncinfer.providers.batch_jobs import BatchRecord
from asyncinfer.providers.bedrock_batch import BedrockBatchJobs, record_id
from asyncinfer.providers.openai_batch import OpenAIBatchJobs
from asyncinfer.providers.openai_provider import client_factory
from infra.local.batch_jobs import DemoBatchJobs
from infra.local.batch_openai import FAIL_MARK
from tests.e2e.conftest import wait_for

pytestmark = pytest.mark.integration
BUCKET = "batch-bucket"
ENV = {"AWS_DEFAULT_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}


@pytest.fixture
def s3(monkeypatch):
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        yield client


def stand_in(s3, seconds: float, min_records: int = 3) -> DemoBatchJobs:
    jobs = DemoBatchJobs(s3, seconds=seconds, min_records=min_records)
    jobs.start_serving()
    return jobs


def records(count: int, failing: tuple[int, ...] = ()) -> list[BatchRecord]:
    def text(i: int) -> str:
        return f"question {i}" + (f" {FAIL_MARK}" if i in failing else "")

    return [BatchRecord(i, {"model": "m", "messages": [{"role": "user", "content": text(i)}]}) for i in range(count)]


def bedrock(s3, jobs: DemoBatchJobs) -> BedrockBatchJobs:
    control = boto3.client("bedrock", region_name="us-east-1", endpoint_url=jobs.url)
    return BedrockBatchJobs(control, s3, DEMO_ROLE_ARN)


def start_bedrock(s3, adapter: BedrockBatchJobs, items: list[BatchRecord], token: str = "b1-0") -> dict:
    data = adapter.prepare("demo-chat", items)
    s3.put_object(Bucket=BUCKET, Key="batches/t/b1/upstream/0/input.jsonl", Body=data)
    base = f"s3://{BUCKET}/batches/t/b1/upstream/0"
    return adapter.start("demo-chat", data, f"{base}/input.jsonl", f"{base}/output/", token)


def test_a_bedrock_job_runs_once_per_token_and_its_records_come_back_per_item(s3):
    jobs = stand_in(s3, seconds=0.5)
    try:
        adapter = bedrock(s3, jobs)
        items = records(6, failing=(4,))
        first = start_bedrock(s3, adapter, items)
        again = start_bedrock(s3, adapter, items)
        assert again == first and jobs.created == 1, "the same token: the same job"
        ended = wait_for(lambda: (p := adapter.poll(first)).state == "ended" and p, timeout=10, what="the job's end")
        assert (ended.status, ended.processed, ended.total) == ("Completed", 6, 6)
        assert abs(ended.started_ms - time.time() * 1000) < 30_000, "submitTime: complete_by's pace"
        results = {r.index: r for r in adapter.results(first)}
        assert sorted(results) == list(range(6))
        assert results[4].code == "provider_rejected" and results[4].text is None
        assert all(results[i].text and "question" in results[i].text for i in (0, 1, 2, 3, 5))
        assert results[0].usage is not None and results[0].usage.prompt_tokens == 2
        assert results[0].usage.completion_tokens == len(results[0].text.split())
        output = s3.list_objects_v2(Bucket=BUCKET, Prefix="batches/t/b1/upstream/0/output/")["Contents"]
        names = sorted(o["Key"].rsplit("/", 1)[-1] for o in output)
        assert names == ["input.jsonl.out", "manifest.json.out"], "where Bedrock writes them"
    finally:
        jobs.stop_serving()


def test_a_bedrock_job_below_the_models_minimum_is_refused(s3):
    jobs = stand_in(s3, seconds=0.1, min_records=5)
    try:
        adapter = bedrock(s3, jobs)
        with pytest.raises(ProviderError) as refused:
            start_bedrock(s3, adapter, records(4))
        assert refused.value.code == "provider_rejected" and not refused.value.retryable
        assert "minimum" in refused.value.message and jobs.created == 0
    finally:
        jobs.stop_serving()


def test_a_stopped_bedrock_job_keeps_what_it_processed(s3):
    jobs = stand_in(s3, seconds=6)
    try:
        adapter = bedrock(s3, jobs)
        job = start_bedrock(s3, adapter, records(30))
        wait_for(lambda: adapter.poll(job).processed >= 3, timeout=10, what="some records processed")
        adapter.stop(job)
        stopped = adapter.poll(job)
        assert stopped.state == "ended" and stopped.status == "Stopped"
        produced = list(adapter.results(job))
        assert 3 <= len(produced) < 30 and len(produced) == stopped.processed
        assert {r.index for r in produced} == set(range(len(produced)))
        adapter.stop(job)  # stopping an ended job is harmless
    finally:
        jobs.stop_serving()


def test_record_ids_are_eleven_alphanumerics():
    assert record_id(0) == "00000000000" and record_id(123) == "00000000123" and len(record_id(10**10)) == 11


def openai_adapter(jobs: DemoBatchJobs) -> OpenAIBatchJobs:
    return OpenAIBatchJobs(client_factory(f"{jobs.url}/v1", lambda: "local", 10, 0))


def test_an_openai_batch_runs_once_per_token_and_its_lines_come_back_per_item(s3):
    jobs = stand_in(s3, seconds=0.5)
    try:
        adapter = openai_adapter(jobs)
        items = records(5, failing=(2,))
        data = adapter.prepare("demo-chat", items)
        first = adapter.start("demo-chat", data, "s3://unused/input.jsonl", "s3://unused/output/", "b2-0")
        again = adapter.start("demo-chat", data, "s3://unused/input.jsonl", "s3://unused/output/", "b2-0")
        assert again == first and jobs.openai.created == 1, "the same idempotency key: the same batch"
        ended = wait_for(lambda: (p := adapter.poll(first)).state == "ended" and p, timeout=10, what="the end")
        assert (ended.status, ended.processed, ended.total) == ("completed", 5, 5)
        assert abs(ended.started_ms - time.time() * 1000) < 30_000, "created_at: complete_by's pace"
        results = {r.index: r for r in adapter.results(first)}
        assert sorted(results) == list(range(5))
        assert results[2].code == "provider_rejected" and "on purpose" in (results[2].message or "")
        assert results[0].text and results[0].usage is not None and results[0].usage.prompt_tokens == 2
    finally:
        jobs.stop_serving()


def test_a_cancelled_openai_batch_keeps_its_finished_lines_and_leaves_the_rest_absent(s3):
    jobs = stand_in(s3, seconds=6)
    try:
        adapter = openai_adapter(jobs)
        data = adapter.prepare("demo-chat", records(30))
        job = adapter.start("demo-chat", data, "s3://unused/in.jsonl", "s3://unused/out/", "b3-0")
        wait_for(lambda: adapter.poll(job).processed >= 3, timeout=10, what="some requests done")
        adapter.stop(job)
        cancelled = adapter.poll(job)
        assert cancelled.state == "ended" and cancelled.status == "cancelled"
        produced = list(adapter.results(job))
        assert 3 <= len(produced) < 30 and all(r.text for r in produced)
        assert {r.index for r in produced} == set(range(len(produced)))
    finally:
        jobs.stop_serving()
