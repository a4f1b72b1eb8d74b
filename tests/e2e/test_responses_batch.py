"""OpenAI's own Python SDK, unchanged but for its base URL, against the local stack: a Batch of endpoint
/v1/responses (an input file from Files) runs each line's Responses request as a chat task and ends with OpenAI's
output file, each output line's body a Response object that the SDK's own model reads."""

from __future__ import annotations

import json

import openai
import pytest
from openai.types.responses import Response

from tests.e2e.conftest import wait_for

pytestmark = pytest.mark.e2e


def line(custom_id: str, body: dict) -> dict:
    return {"custom_id": custom_id, "method": "POST", "url": "/v1/responses", "body": {"model": "gpt-4o-mini", **body}}


@pytest.fixture
def client(stack) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{stack.url}/v1", api_key=stack.key, max_retries=0)


def test_a_responses_batch_ends_with_response_objects_in_openais_output_file(client, stack, tmp_path):
    lines = [
        line("plain", {"input": "Name a prime number"}),
        line("instructed", {"instructions": "Answer in one word", "input": "Name a colour", "max_output_tokens": 3}),
        line("failing", {"model": "demo-fail", "input": "This one fails"}),
    ]
    path = tmp_path / "responses.jsonl"
    path.write_text("".join(json.dumps(entry) + "\n" for entry in lines))
    with path.open("rb") as handle:
        uploaded = client.files.create(file=handle, purpose="batch")
    batch = client.batches.create(input_file_id=uploaded.id, endpoint="/v1/responses", completion_window="24h")
    assert batch.endpoint == "/v1/responses"
    done = wait_for(
        lambda: (b := client.batches.retrieve(batch.id)).status == "completed" and b, timeout=120, what="completed"
    )
    assert (done.request_counts.total, done.request_counts.completed, done.request_counts.failed) == (3, 2, 1)

    output = {}
    for raw in client.files.content(done.output_file_id).text.splitlines():
        entry = json.loads(raw)
        assert entry["response"]["status_code"] == 200 and entry["error"] is None
        output[entry["custom_id"]] = (
            entry["response"]["request_id"],
            Response.model_validate(entry["response"]["body"]),
        )
    assert list(output) == ["plain", "instructed"]
    with httpx_client(stack) as http:
        for task_id, response in output.values():
            assert response.object == "response"
            assert response.id.startswith("resp_") and response.usage.output_tokens > 0
            # The Response's text is the item's answer, as the Async API reads the same task.
            read = http.get(f"/v1/async/{task_id}").json()
            assert response.output_text == read["choices"][0]["message"]["content"] != ""
    assert output["plain"][1].status == "completed"
    # Cut short by its max_output_tokens: `incomplete`, saying why, as OpenAI's Response does.
    instructed = output["instructed"][1]
    assert instructed.status == "incomplete" and instructed.incomplete_details.reason == "max_output_tokens"
    assert instructed.instructions == "Answer in one word" and instructed.max_output_tokens == 3

    errors = [json.loads(raw) for raw in client.files.content(done.error_file_id).text.splitlines()]
    assert [e["custom_id"] for e in errors] == ["failing"]


def test_a_responses_line_the_surface_would_refuse_refuses_the_batch_naming_it(client, tmp_path):
    path = tmp_path / "refused.jsonl"
    path.write_text(json.dumps(line("stateful", {"input": "Go on", "previous_response_id": "resp_x"})) + "\n")
    with path.open("rb") as handle:
        uploaded = client.files.create(file=handle, purpose="batch")
    with pytest.raises(openai.BadRequestError) as refused:
        client.batches.create(input_file_id=uploaded.id, endpoint="/v1/responses", completion_window="24h")
    assert "previous_response_id" in str(refused.value)


def httpx_client(stack):
    return stack.client()
