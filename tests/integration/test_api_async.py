import json
import uuid

import pytest

from asyncinfer.handlers import api_async
from asyncinfer.surfaces.async_api import internal_id
from tests.conftest import load_event
from tests.integration.conftest import REFERENCE_BODY
from tests.integration.test_sample_events import through_web_adapter

pytestmark = pytest.mark.integration


def test_reference_request_creates_one_task_and_one_message(aws):
    status, body = aws.api("POST", "/v1/async", body=REFERENCE_BODY)
    assert status == 200
    assert set(body) == {"id", "status", "created_at"}
    assert body["status"] == "CREATED"
    assert body["created_at"].endswith("Z")
    task = aws.store.get("acme", internal_id(body["id"]))
    assert task.request == REFERENCE_BODY
    messages = aws.sqs.receive_message(QueueUrl=aws.resources.queue_url, MaxNumberOfMessages=10)["Messages"]
    assert [json.loads(m["Body"]) for m in messages] == [{"tenant": "acme", "task_id": task.id}]


def test_unknown_fields_are_kept_with_the_task(aws):
    _, body = aws.api("POST", "/v1/async", body={**REFERENCE_BODY, "temperature": 0.3, "x_custom": {"a": [1]}})
    task = aws.store.get("acme", internal_id(body["id"]))
    assert task.request["x_custom"] == {"a": [1]}
    assert task.request["temperature"] == 0.3


BAD = [
    ("{not json", 400, "invalid_json"),
    ("", 400, "invalid_json"),
    ("[]", 400, "invalid_json"),
    ({"messages": REFERENCE_BODY["messages"]}, 400, "invalid_request"),
    ({"model": "demo-chat"}, 400, "invalid_request"),
    ({"model": "demo-chat", "messages": [{"role": "user", "content": 5}]}, 400, "invalid_request"),
    ({**REFERENCE_BODY, "max_tokens": "100"}, 400, "invalid_request"),
    ({**REFERENCE_BODY, "max_tokens": 10**9}, 400, "invalid_request"),
    ({**REFERENCE_BODY, "model": "gpt-nonexistent"}, 400, "unknown_model"),
    ({**REFERENCE_BODY, "padding": "x" * (1024 * 1024)}, 413, "request_too_large"),
]


@pytest.mark.parametrize(("body", "status", "code"), BAD)
def test_bad_input_is_a_4xx_json_error_and_changes_nothing(aws, body, status, code):
    got_status, got = aws.api("POST", "/v1/async", body=body)
    assert got_status == status
    assert got["error"]["code"] == code
    assert got["error"]["message"]
    assert aws.store.list("acme", limit=10, after=None, status=None).tasks == []
    assert aws.queue_depth() == 0


def test_large_requests_are_kept_in_s3(aws, monkeypatch):
    monkeypatch.setenv("ASYNCINFER_INLINE_REQUEST_BYTES", "2048")
    api_async.service.cache_clear()
    big = {**REFERENCE_BODY, "messages": [{"role": "user", "content": "word " * 2000}]}
    _, body = aws.api("POST", "/v1/async", body=big)
    task = aws.store.get("acme", internal_id(body["id"]))
    assert task.request is None
    stored = aws.s3.get_object(Bucket=aws.resources.bucket_name, Key=task.request_key)["Body"].read()
    assert json.loads(stored)["messages"] == big["messages"]
    aws.run_worker()
    assert aws.store.get("acme", task.id).status == "COMPLETED"


def test_a_queue_failure_withdraws_the_task_and_answers_503(aws):
    class BrokenQueue:
        def send(self, message):
            raise ConnectionError("sqs unreachable")

    api_async.service().queue = BrokenQueue()
    status, body = aws.api("POST", "/v1/async", body=REFERENCE_BODY)
    assert status == 503
    assert body["error"]["code"] == "service_unavailable"
    assert aws.store.list("acme", limit=10, after=None, status=None).tasks == []


def test_get_list_and_cancel_through_the_handler(aws):
    ids = [aws.api("POST", "/v1/async", body=REFERENCE_BODY)[1]["id"] for _ in range(3)]
    status, listing = aws.api("GET", "/v1/async", query={"limit": "2"})
    assert status == 200
    assert [t["id"] for t in listing["tasks"]] == ids[::-1][:2]
    assert listing["has_more"] is True
    _, rest = aws.api("GET", "/v1/async", query={"limit": "2", "cursor": listing["next_cursor"]})
    assert [t["id"] for t in rest["tasks"]] == [ids[0]]
    assert rest["next_cursor"] is None

    status, cancelled = aws.api("POST", f"/v1/async/{ids[0]}/cancel")
    assert status == 200
    assert cancelled["status"] == "CANCELLED"
    assert "cancelled_at" in cancelled
    _, filtered = aws.api("GET", "/v1/async", query={"status": "CANCELLED"})
    assert [t["id"] for t in filtered["tasks"]] == [ids[0]]

    aws.run_worker()
    _, done = aws.api("GET", f"/v1/async/{ids[1]}")
    assert done["status"] == "COMPLETED"
    assert done["choices"][0]["message"]["content"]
    assert done["usage"]["total_tokens"] > 0
    _, still = aws.api("GET", f"/v1/async/{ids[0]}")
    assert still["status"] == "CANCELLED"
    assert "choices" not in still
    # Cancelling a task that ended has no effect.
    status, again = aws.api("POST", f"/v1/async/{ids[1]}/cancel")
    assert (status, again["status"]) == (200, "COMPLETED")


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ({"limit": "0"}, "invalid_request"),
        ({"limit": "101"}, "invalid_request"),
        ({"status": "DONE"}, "invalid_request"),
        ({"cursor": "x"}, "invalid_request"),
    ],
)
def test_bad_list_parameters(aws, query, code):
    status, body = aws.api("GET", "/v1/async", query=query)
    assert (status, body["error"]["code"]) == (400, code)


def test_other_tenants_and_missing_ids_get_the_same_404(aws):
    task_id = aws.api("POST", "/v1/async", body=REFERENCE_BODY)[1]["id"]
    missing = "task_01a20170-a347-7c35-9be7-d14fabf70ab9"
    answers = [
        aws.api("GET", f"/v1/async/{task_id}", tenant="intruder"),
        aws.api("GET", f"/v1/async/{missing}", tenant="intruder"),
        aws.api("POST", f"/v1/async/{task_id}/cancel", tenant="intruder"),
        aws.api("POST", f"/v1/async/{missing}/cancel", tenant="intruder"),
        aws.api("GET", "/v1/async/not-an-id", tenant="intruder"),
    ]
    assert all(a == (404, {"error": {"code": "not_found", "message": "No task with that id"}}) for a in answers)
    assert aws.api("GET", "/v1/async", tenant="intruder")[1]["tasks"] == []
    assert aws.store.get("acme", internal_id(task_id)).status == "CREATED"


def test_without_an_authorizer_tenant_nothing_is_served(aws):
    status, body = aws.api("GET", "/v1/async", tenant="")
    assert (status, body["error"]["code"]) == (401, "unauthorized")


@pytest.mark.parametrize(
    "function, path",
    [
        ("api_async", "/v1/async"),
        ("api_perplexity", "/async/chat/completions"),
        ("api_privategpt", "/v1/messages/async"),
        ("api_netmind", "/v1/generation"),
    ],
)
def test_a_body_that_is_not_utf8_is_a_400_on_every_surface(aws, function, path):
    """Found by Schemathesis: API Gateway hands binary bodies over base64-encoded; they used to be a 500."""
    import base64

    event = load_event("api_async_submit")
    event.update(path=path, resource=path, body=base64.b64encode(b"#f\xff\xfe\x8a{").decode(), isBase64Encoded=True)
    result = aws.functions.invoke(function, event)
    assert result["statusCode"] == 400, result
    assert json.loads(result["body"])["error"]["code"] == "invalid_json"
    assert aws.queue_depth() == 0


def stored_nothing(aws) -> None:
    assert aws.queue_depth() == 0
    assert aws.s3.list_objects_v2(Bucket=aws.resources.bucket_name).get("KeyCount", 0) == 0
    status, listing = aws.api("GET", "/v1/async")
    assert status == 200 and listing["tasks"] == []


@pytest.mark.parametrize("size", [257, 392_000, 500_000])
def test_an_oversized_correlation_id_is_a_400_before_anything_is_stored(aws, size):
    status, body = aws.api("POST", "/v1/async", body={**REFERENCE_BODY, "correlation_id": "c" * size})
    assert status == 400 and body["error"]["message"].startswith("correlation_id"), body
    stored_nothing(aws)
    status, body = aws.api(
        "POST", "/v1/messages/async", body={**REFERENCE_BODY, "correlation_id": "c" * size}, function="api_privategpt"
    )
    assert status == 400 and "correlation_id" in body["error"]["message"], body
    stored_nothing(aws)


@pytest.mark.parametrize("metadata", [{"k": "v" * 513}, {"k" * 65: "v"}, {f"k{i}": "v" for i in range(17)}])
def test_batch_metadata_is_bounded_as_openai_bounds_it(aws, metadata):
    requests = [{"custom_id": "a", "body": REFERENCE_BODY}]
    status, body = aws.api(
        "POST", "/v1/batches", body={"requests": requests, "metadata": metadata}, function="api_batches"
    )
    assert status == 400 and "metadata" in body["error"]["message"], body
    assert aws.queue_depth(aws.resources.batch_queue_url) == 0


def test_the_async_api_never_reaches_a_generation_task(aws, event):
    status, gen = aws.api(
        "POST", "/v1/generation", body={"model": "demo-image", "config": {"prompt": "a cup"}}, function="api_netmind"
    )
    assert status == 200, gen
    public = f"task_{uuid.UUID(gen['id'])}"
    for method, path in [
        ("GET", f"/v1/async/{public}"),
        ("POST", f"/v1/async/{public}/cancel"),
        ("DELETE", f"/v1/async/{public}"),
    ]:
        status, body = aws.api(method, path)
        assert status == 404 and body["error"]["code"] == "not_found", (method, body)
    stream = event("stream_async_events")
    stream["path"] = f"/v1/async/{public}/events"
    stream["pathParameters"]["id"] = public
    assert through_web_adapter(stream).status_code == 404
    status, untouched = aws.api("GET", f"/v1/generation/{gen['id']}", function="api_netmind")
    assert untouched["status"] == "pending" and untouched["is_deleted"] is False


@pytest.mark.parametrize("form", ["task_{uuid}", "{uuid}", "{hex}", "msg_{hex}", "TASK_{UUID}", "{HEX}"])
def test_a_message_id_cannot_take_a_task_ids_form_and_shadow_that_task(aws, form):
    status, victim = aws.api("POST", "/v1/async", body=REFERENCE_BODY)
    task_uuid = uuid.UUID(victim["id"].removeprefix("task_"))
    spelling = form.format(uuid=task_uuid, hex=task_uuid.hex, UUID=str(task_uuid).upper(), HEX=task_uuid.hex.upper())
    status, body = aws.api(
        "POST", "/v1/messages/async", query={"message_id": spelling}, body=REFERENCE_BODY, function="api_privategpt"
    )
    assert status == 400 and body["error"]["code"] == "invalid_message_id", body
    if form.islower() or form.startswith("{uuid"):
        status, seen = aws.api("GET", f"/v1/messages/async/{spelling}/status", function="api_privategpt")
        assert status == 200 and seen["message_id"] == f"msg_{task_uuid.hex}"  # still the victim


def test_reads_of_an_unfinished_task_carry_a_poll_hint_and_ended_ones_none(aws):
    """OpenAI's `openai-poll-after-ms`, which its SDK's create_and_poll honours, on every surface's read."""
    status, created = aws.api("POST", "/v1/async", body=REFERENCE_BODY)
    assert status == 200

    def read_headers() -> dict:
        event = load_event("api_async_get")
        path = f"/v1/async/{created['id']}"
        event.update(path=path, pathParameters={"id": created["id"]}, httpMethod="GET")
        answer = aws.functions.invoke("api_async", event)
        headers = {
            **(answer.get("headers") or {}),
            **{k: v[0] for k, v in (answer.get("multiValueHeaders") or {}).items()},
        }
        return {k.lower(): v for k, v in headers.items()}

    assert read_headers()["openai-poll-after-ms"] == "1000"
    aws.run_worker()
    assert "openai-poll-after-ms" not in read_headers()
