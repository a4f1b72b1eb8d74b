"""The Perplexity surface over HTTP against the local stack."""

import json
import shutil
import subprocess
import uuid

import pytest

from tests.e2e.conftest import wait_for

pytestmark = pytest.mark.e2e

BODY = {
    "request": {"model": "demo-chat", "messages": [{"role": "user", "content": "What changed in async APIs?"}]},
    "idempotency_key": None,
}


def reference_get(stack, api_request: str) -> dict:
    """The reference page's example, verbatim but for host, id and key:
    curl --request GET --url https://api.example.com/async/chat/completions/{api_request} \\
      --header 'Authorization: Bearer <token>'"""
    done = subprocess.run(
        [
            shutil.which("curl") or "curl",
            "--silent",
            "--request",
            "GET",
            "--url",
            f"{stack.url}/async/chat/completions/{api_request}",
            "--header",
            f"Authorization: Bearer {stack.key}",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=10,
    )
    return json.loads(done.stdout)


def test_submit_poll_with_the_reference_request_and_list(stack):
    body = {**BODY, "idempotency_key": uuid.uuid4().hex}
    with stack.client() as client:
        created = client.post("/async/chat/completions", json=body)
        assert created.status_code == 200, created.text
        request_id = created.json()["id"]
        assert created.json()["status"] == "CREATED"
        assert client.post("/async/chat/completions", json=body).json()["id"] == request_id

        done = wait_for(
            lambda: (r := reference_get(stack, request_id))["status"] == "COMPLETED" and r, what="COMPLETED"
        )
        assert isinstance(done["created_at"], int) and isinstance(done["completed_at"], int)
        assert done["response"]["choices"][0]["message"]["content"]
        assert set(done["response"]["usage"]["cost"]) >= {"input_tokens_cost", "output_tokens_cost", "total_cost"}

        listed = client.get("/async/chat/completions", params={"limit": 50}).json()
        assert request_id in [r["id"] for r in listed["requests"]]
        # The same task, read on the Async API surface.
        native = client.get(f"/v1/async/task_{request_id}").json()
        assert native["status"] == "COMPLETED"
        assert native["choices"] == done["response"]["choices"]


def test_unknown_request_is_a_json_404(stack):
    with stack.client() as client:
        response = client.get(f"/async/chat/completions/{uuid.uuid4()}")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_perplexitys_own_sdk_creates_gets_and_lists_unchanged(stack):
    """The official `perplexityai` SDK, given only the base URL: create, get until COMPLETED, list."""
    from perplexity import Perplexity

    client = Perplexity(api_key=stack.key, base_url=stack.url, max_retries=0)
    messages = [{"role": "user", "content": "What is a disconnect-safe API?"}]
    created = client.async_.chat.completions.create(
        request={"model": "sonar-pro", "messages": messages}, idempotency_key=uuid.uuid4().hex
    )
    assert created.status == "CREATED" and created.model == "sonar-pro" and isinstance(created.created_at, int)
    done = wait_for(
        lambda: (r := client.async_.chat.completions.get(created.id)).status == "COMPLETED" and r, what="COMPLETED"
    )
    assert done.response.choices[0].message.content.startswith("Demo answer")
    assert done.response.usage.total_tokens > 0 and done.completed_at >= done.created_at
    assert created.id in [r.id for r in client.async_.chat.completions.list().requests]


def test_perplexitys_deep_research_model_and_its_v1_async_sonar_paths_serve_the_same_tasks(stack):
    """sonar-deep-research, Perplexity's async model, runs (on the demo research model, a long task), and
    Perplexity's current paths /v1/async/sonar read the same tasks as /async/chat/completions."""
    body = {"request": {"model": "sonar-deep-research", "messages": [{"role": "user", "content": "Survey async APIs"}]}}
    with stack.client() as client:
        created = client.post("/v1/async/sonar", json=body)
        assert created.status_code == 200, created.text
        request_id = created.json()["id"]
        assert created.json()["model"] == "sonar-deep-research"
        wait_for(
            lambda: client.get(f"/v1/async/sonar/{request_id}").json()["status"] == "IN_PROGRESS", what="IN_PROGRESS"
        )
        old = client.get(f"/async/chat/completions/{request_id}").json()
        assert old["id"] == request_id and old["model"] == "sonar-deep-research"
        assert request_id in [r["id"] for r in client.get("/v1/async/sonar", params={"limit": 50}).json()["requests"]]
        # A long task: not left running behind the test.
        assert client.post(f"/v1/async/task_{request_id}/cancel").status_code == 200
