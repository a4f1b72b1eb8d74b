"""Where a model marked `"runs": "durable"` runs: on the runner where the deployment has one; where it has
none, a plain chat model (the MiroMind deep-research id) runs on the worker as before, and only a model the
runner alone can run (research tools, upstream jobs) is refused at submit."""

from __future__ import annotations

import pytest

from tests.integration.test_long_tasks import long_tasks  # noqa: F401  (the durable runtime fixture)

pytestmark = pytest.mark.integration
MIROMIND = {
    "model": "mirothinker-1-7-deepresearch-mini",
    "messages": [{"role": "user", "content": "Write a detailed research report on quantum computing."}],
}


def test_without_a_runner_the_miromind_model_runs_on_the_worker(aws):
    status, created = aws.api("POST", "/v1/async", body=MIROMIND)
    assert status == 200, created
    aws.run_worker()
    status, done = aws.api("GET", f"/v1/async/{created['id']}")
    assert done["status"] == "COMPLETED", done
    status, refused = aws.api(
        "POST", "/v1/async", body={**MIROMIND, "model": "demo-deep-research"}
    )  # research tools: the runner's steps only
    assert status == 400 and refused["error"]["code"] == "long_tasks_unavailable"


def test_with_a_runner_the_miromind_model_runs_there(long_tasks):  # noqa: F811
    aws, durable = long_tasks
    status, created = aws.api("POST", "/v1/async", body=MIROMIND)
    assert status == 200, created
    aws.run_worker()
    task = aws.store.get("acme", created["id"].removeprefix("task_").replace("-", ""))
    assert task.execution_arn, "dispatched to the runner"
    assert durable.wait(task.execution_arn)["Status"] == "SUCCEEDED"
    status, done = aws.api("GET", f"/v1/async/{created['id']}")
    assert done["status"] == "COMPLETED", done
