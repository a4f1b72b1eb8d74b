"""The Perplexity surface (reference 002) through its handler, against moto."""

import re

import pytest

from asyncinfer.domain.ids import parse_any
from asyncinfer.handlers import shared
from tests.integration.conftest import REFERENCE_BODY
from tests.support.models_file import serve_models

pytestmark = pytest.mark.integration
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


def call(aws, method, path, **kwargs):
    return aws.api(method, path, function="api_perplexity", **kwargs)


def submit(aws, body=None, **kwargs):
    return call(
        aws, "POST", "/async/chat/completions", body={"request": REFERENCE_BODY} if body is None else body, **kwargs
    )


def test_submit_answers_with_the_get_object_in_created(aws):
    status, created = submit(aws)
    assert status == 200
    assert UUID.match(created["id"])
    assert created["status"] == "CREATED"
    assert created["model"] == REFERENCE_BODY["model"]
    assert isinstance(created["created_at"], int) and created["created_at"] > 1_700_000_000
    for name in ("started_at", "completed_at", "failed_at", "response", "error_message"):
        assert created[name] is None
    read = call(aws, "GET", f"/async/chat/completions/{created['id']}")[1]
    # The same object (an estimate of its start is made anew on each read).
    assert {**read, "estimated_start_at": None} == {**created, "estimated_start_at": None}
    assert created["service_tier"] == "default" and created["queue_position"] == 0


def test_a_completed_request_has_the_response_with_usage_and_cost(aws, tmp_path, monkeypatch):
    registry = {
        "version": 1,
        "models": {
            "priced": {
                "provider": "local",
                "upstream": "demo-chat",
                "kind": "chat",
                "prices": {"input_per_million": 3.0, "output_per_million": 15.0, "per_request": 0.005},
            }
        },
    }
    serve_models(registry, tmp_path, monkeypatch)
    shared.service.cache_clear()
    from asyncinfer.handlers import worker

    worker.runtime.cache_clear()
    _, created = submit(aws, {"request": {**REFERENCE_BODY, "model": "priced"}})
    aws.run_worker()
    status, done = call(aws, "GET", f"/async/chat/completions/{created['id']}")
    assert status == 200 and done["status"] == "COMPLETED"
    assert done["started_at"] <= done["completed_at"] and done["failed_at"] is None
    response = done["response"]
    assert response["object"] == "chat.completion"
    assert response["choices"][0]["message"]["role"] == "assistant"
    usage = response["usage"]
    prompt, completion = usage["prompt_tokens"], usage["completion_tokens"]
    assert usage["total_tokens"] == prompt + completion
    cost = usage["cost"]
    assert cost["input_tokens_cost"] == pytest.approx(prompt * 3.0 / 1e6)
    assert cost["output_tokens_cost"] == pytest.approx(completion * 15.0 / 1e6)
    assert cost["request_cost"] == 0.005
    assert cost["total_cost"] == pytest.approx(cost["input_tokens_cost"] + cost["output_tokens_cost"] + 0.005)
    assert {"reasoning_tokens_cost", "citation_tokens_cost", "search_queries_cost"} <= set(cost)


def test_idempotency_key_in_the_body_or_header(aws):
    body = {"request": REFERENCE_BODY, "idempotency_key": "pplx-1"}
    first, again = submit(aws, body)[1], submit(aws, body)[1]
    assert again["id"] == first["id"]
    from_header = submit(aws, {"request": REFERENCE_BODY}, headers={"Idempotency-Key": "pplx-1"})[1]
    assert from_header["id"] == first["id"]
    changed = {"request": {**REFERENCE_BODY, "max_tokens": 5}, "idempotency_key": "pplx-1"}
    status, error = submit(aws, changed)
    assert status == 409 and error["error"]["code"] == "idempotency_conflict"
    status, error = submit(aws, body, headers={"Idempotency-Key": "other"})
    assert status == 400


@pytest.mark.parametrize(
    "body",
    [{}, {"request": "hi"}, {"request": {"messages": []}}, {"request": REFERENCE_BODY, "idempotency_key": 7}],
)
def test_bad_submits_are_400_and_store_nothing(aws, body):
    status, error = submit(aws, body)
    assert status == 400 and error["error"]["code"] == "invalid_request"
    assert aws.queue_depth() == 0


def test_list_pages_with_next_token_and_shows_cancelled_as_failed(aws):
    ids = [submit(aws)[1]["id"] for _ in range(3)]
    aws.api("POST", f"/v1/async/task_{ids[0]}/cancel")  # cancelled on another surface
    status, first = call(aws, "GET", "/async/chat/completions", query={"limit": "2"})
    assert status == 200
    assert [r["id"] for r in first["requests"]] == ids[::-1][:2]
    assert set(first["requests"][0]) == {
        "id",
        "model",
        "status",
        "created_at",
        "started_at",
        "completed_at",
        "failed_at",
    }
    _, rest = call(aws, "GET", "/async/chat/completions", query={"limit": "2", "next_token": first["next_token"]})
    assert [r["id"] for r in rest["requests"]] == ids[:1]
    assert rest["next_token"] is None
    cancelled = rest["requests"][0]
    assert cancelled["status"] == "FAILED" and cancelled["failed_at"] is not None
    detail = call(aws, "GET", f"/async/chat/completions/{ids[0]}")[1]
    assert detail["error_message"] == "The request was cancelled"
    assert call(aws, "GET", "/async/chat/completions", query={"next_token": "zzz"})[0] == 400


def test_ids_read_across_surfaces(aws):
    _, native = aws.api("POST", "/v1/async", body=REFERENCE_BODY)
    internal = parse_any(native["id"])
    status, seen = call(aws, "GET", f"/async/chat/completions/{native['id']}")
    assert status == 200 and parse_any(seen["id"]) == internal
    assert call(aws, "GET", f"/async/chat/completions/{internal}")[0] == 200
    assert call(aws, "GET", f"/async/chat/completions/{seen['id']}", tenant="other")[0] == 404
