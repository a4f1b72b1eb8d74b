"""Bedrock video jobs. One whose output.mp4 lands after GetAsyncInvoke says Completed: the runner keeps
polling (the job reads as running, within a bound) instead of failing the task; past the bound it fails,
saying why. The demo video model, whose jobs go to the local stack's offline stand-in, is refused at submit
in a deployment (where it would have reached Bedrock with no grant)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from botocore.stub import Stubber

from asyncinfer.providers.bedrock_jobs import BedrockVideoJobs
from asyncinfer.surfaces.netmind import stamp
from infra.local.video_jobs import DemoVideoJobs
from tests.e2e.conftest import wait_for
from tests.integration.test_long_tasks import long_tasks  # noqa: F401  (the durable runtime fixture)

pytestmark = pytest.mark.integration


def test_a_video_whose_mp4_lands_after_completed_still_completes(long_tasks, monkeypatch):  # noqa: F811
    aws, durable = long_tasks
    jobs = DemoVideoJobs(aws.s3, seconds=0.5, output_lag=3)
    jobs.start_serving()
    monkeypatch.setenv("ASYNCINFER_DEMO_VIDEO_JOBS_URL", jobs.url)
    monkeypatch.setenv("ASYNCINFER_JOB_POLL_SECONDS", "1")
    try:
        body = {"model": "demo-video", "config": {"prompt": "a late cat"}}
        status, created = aws.api("POST", "/v1/generation", body=body, function="api_netmind")
        assert status == 200, created
        aws.run_worker()
        task = aws.store.get("acme", created["id"])
        assert durable.wait(task.execution_arn, timeout=60)["Status"] == "SUCCEEDED"
        assert jobs.early_reads() >= 1, "the runner read Completed before the file was there"
        status, done = aws.api("GET", f"/v1/generation/{created['id']}", function="api_netmind")
        assert done["status"] == "completed", done
        (output,) = aws.store.get("acme", created["id"]).outputs
        assert output.key.endswith("/output.mp4") and output.size > 0
    finally:
        jobs.stop()


def test_a_video_whose_job_reports_no_progress_shows_its_time_so_far_and_its_models_usual_time(long_tasks, monkeypatch):  # noqa: F811
    """Bedrock's GetAsyncInvoke (and its stand-in) reports no percent: while the job runs, reads and the event
    log carry how long it has run and the registry's 90 s for Nova Reel, never a made-up step or percent."""
    aws, durable = long_tasks
    jobs = DemoVideoJobs(aws.s3, seconds=4)
    jobs.start_serving()
    monkeypatch.setenv("ASYNCINFER_DEMO_VIDEO_JOBS_URL", jobs.url)
    monkeypatch.setenv("ASYNCINFER_JOB_POLL_SECONDS", "1")
    try:
        body = {"model": "demo-video", "config": {"prompt": "a slow cat"}}
        status, created = aws.api("POST", "/v1/generation", body=body, function="api_netmind")
        assert status == 200, created

        def read() -> dict:
            return aws.api("GET", f"/v1/generation/{created['id']}", function="api_netmind")[1]

        def timed(found: dict) -> bool:
            return (found.get("progress") or {}).get("elapsed_seconds", 0) > 0

        aws.run_worker()
        running = wait_for(lambda: timed(r := read()) and r, timeout=30, interval=0.2, what="the time run on a read")
        assert running["status"] == "processing", running
        assert set(running["progress"]) == {"elapsed_seconds", "estimated_seconds"}, running["progress"]
        assert running["progress"]["estimated_seconds"] == 90
        task = aws.store.get("acme", created["id"])
        assert running["estimated_finish_at"] == stamp(task.started_at + 90_000), "its start plus the usual 90 s"
        assert durable.wait(task.execution_arn, timeout=60)["Status"] == "SUCCEEDED"
        assert read()["status"] == "completed"
        told = [e for e in aws.store.read_events("acme", created["id"]) if e["type"] == "progress"]
        *timed_events, last = [{k: v for k, v in e.items() if k not in ("seq", "type")} for e in told]
        assert timed_events and all(set(e) == {"elapsed_seconds", "estimated_seconds"} for e in timed_events), told
        assert timed_events[0]["elapsed_seconds"] >= 1 and {e["estimated_seconds"] for e in timed_events} == {90}
        assert last == {"percent": 100.0}, "done at Completed, never before, and no step"
    finally:
        jobs.stop()


def test_a_deployment_refuses_the_local_only_video_model_at_submit_and_stores_nothing(long_tasks, monkeypatch):  # noqa: F811
    aws, _ = long_tasks
    monkeypatch.delenv("ASYNCINFER_DEMO_VIDEO_JOBS_URL", raising=False)
    body = {"model": "demo-video", "config": {"prompt": "a cat"}}
    status, answer = aws.api("POST", "/v1/generation", body=body, function="api_netmind")
    assert status == 400, answer
    assert answer["error"]["code"] == "local_only_model"
    assert "exists only in the local stack" in answer["error"]["message"]
    assert aws.queue_depth() == 0
    status, images = aws.api(
        "POST",
        "/v1/generation",
        body={"model": "Qwen/Qwen-Image", "config": {"prompt": "a cat"}},
        function="api_netmind",
    )
    assert status == 200, images  # the demo models that run anywhere are still served


def completed(ended: datetime) -> dict:
    return {
        "invocationArn": "arn:aws:bedrock:us-east-1:000000000000:async-invoke/abc",
        "modelArn": "arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-reel-v1:1",
        "clientRequestToken": "t" * 33,
        "status": "Completed",
        "submitTime": ended - timedelta(seconds=90),
        "endTime": ended,
        "outputDataConfig": {"s3OutputDataConfig": {"s3Uri": "s3://bucket/outputs/acme/t1/abc"}},
    }


@pytest.mark.parametrize(
    ("ago", "present", "state"),
    [(10, True, "completed"), (10, False, "running"), (301, False, "failed"), (301, True, "completed")],
)
def test_a_missing_output_reads_as_running_until_the_bound(ago, present, state):
    import boto3

    client = boto3.client("bedrock-runtime", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    asked: list[str] = []

    def exists(key: str) -> bool:
        asked.append(key)
        return present

    with Stubber(client) as stub:
        stub.add_response("get_async_invoke", completed(datetime.now(UTC) - timedelta(seconds=ago)))
        found = BedrockVideoJobs(client, exists, late_output_seconds=300).poll({"arn": "arn"})
    assert found.state == state
    assert asked == ["outputs/acme/t1/abc/output.mp4"]
    if state == "failed":
        assert "output.mp4 did not appear within 300 s" in (found.error or "")
    if state == "completed":
        assert found.outputs == ("outputs/acme/t1/abc/output.mp4",)
