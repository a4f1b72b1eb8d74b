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
