"""The Files API and OpenAI-style batches through the real batches handler: uploads as the OpenAI SDK sends
them (multipart), batches from an input_file_id, OpenAI's output and error files, tenants kept apart."""

from __future__ import annotations

import base64
import json
from urllib.parse import parse_qs, quote, urlsplit

import httpx
import pytest

from asyncinfer.blobs.base import upload_key
from tests.integration.test_batches import run_all

pytestmark = pytest.mark.integration


def call(aws, method: str, path: str, *, tenant: str = "acme", body: bytes | None = None, headers=None, query=None):
    """The batches function's raw answer (status, headers, body) to an API Gateway proxy event."""
    how = {"tenant": tenant, "headers": headers, "query": query, "function": "api_batches"}
    result = aws.invoke_api(method, path, body=body, **how)
    raw = base64.b64decode(result["body"]) if result.get("isBase64Encoded") else (result["body"] or "").encode()
    headers = {
        **{k: v[-1] for k, v in (result.get("multiValueHeaders") or {}).items()},
        **(result.get("headers") or {}),
    }
    return result["statusCode"], headers, raw


def redirected(aws, headers: dict) -> list[dict]:
    """The lines of the object a content redirect points at, read from the emulated bucket (its presigned URL
    names S3's public host, never fetched from a test)."""
    location = urlsplit(headers["Location"])
    bucket, key = aws.resources.bucket_name, location.path.lstrip("/")
    key = key.removeprefix(f"{bucket}/")
    assert parse_qs(location.query).get("X-Amz-Signature") or parse_qs(location.query).get("Signature")
    body = aws.s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode()
    return [json.loads(x) for x in body.splitlines()]


def upload(aws, content: bytes, *, purpose: str = "batch", name: str = "in.jsonl", tenant: str = "acme"):
    """A multipart body exactly as httpx (the OpenAI SDK's client) encodes files.create."""
    request = httpx.Request("POST", "http://x/v1/files", files={"file": (name, content)}, data={"purpose": purpose})
    status, _, raw = call(
        aws,
        "POST",
        "/v1/files",
        tenant=tenant,
        body=request.read(),
        headers={"content-type": request.headers["content-type"]},
    )
    return status, json.loads(raw)


def jsonl(lines: list[dict]) -> bytes:
    return "".join(json.dumps(line) + "\n" for line in lines).encode()


def line(custom_id: str, model: str = "gpt-4o-mini", url: str = "/v1/chat/completions") -> dict:
    body = {"model": model, "messages": [{"role": "user", "content": f"Question {custom_id}"}]}
    return {"custom_id": custom_id, "method": "POST", "url": url, "body": body}


def openai_batch(aws, file_id: str, tenant: str = "acme") -> tuple[int, dict]:
    body = {"input_file_id": file_id, "endpoint": "/v1/chat/completions", "completion_window": "24h"}
    return aws.api("POST", "/v1/batches", body=body, tenant=tenant, function="api_batches")


def test_an_upload_becomes_a_batch_whose_output_and_error_files_are_openais(aws):
    status, file = upload(aws, jsonl([line("a"), line("b", model="demo-fail"), line("c")]), name="my batch.jsonl")
    assert status == 200, file
    assert file["object"] == "file" and file["purpose"] == "batch" and file["filename"] == "my batch.jsonl"
    status, batch = openai_batch(aws, file["id"])
    assert status == 200, batch
    assert isinstance(batch["created_at"], int) and batch["input_file_id"] == file["id"]
    assert batch["output_file_id"] is None and batch["completed_at"] is None
    run_all(aws)
    status, done = aws.api("GET", f"/v1/batches/{batch['id']}", function="api_batches")
    assert done["status"] == "completed" and isinstance(done["completed_at"], int)
    assert done["request_counts"]["completed"] == 2 and done["request_counts"]["failed"] == 1

    status, headers, _ = call(aws, "GET", f"/v1/files/{done['output_file_id']}/content")
    assert status == 302
    output = redirected(aws, headers)
    assert [(x["custom_id"], x["response"]["status_code"]) for x in output] == [("a", 200), ("c", 200)]
    assert output[0]["id"].startswith("batch_req_") and output[0]["response"]["body"]["object"] == "chat.completion"
    _, headers, _ = call(aws, "GET", f"/v1/files/{done['error_file_id']}/content")
    errors = redirected(aws, headers)
    assert [(x["custom_id"], x["response"], x["error"]["code"]) for x in errors] == [("b", None, "model_error")]


def test_a_batch_with_no_failures_has_no_error_file(aws):
    _, file = upload(aws, jsonl([line("only")]))
    _, batch = openai_batch(aws, file["id"])
    run_all(aws)
    _, done = aws.api("GET", f"/v1/batches/{batch['id']}", function="api_batches")
    assert done["output_file_id"] and done["error_file_id"] is None


def test_files_and_their_batches_are_the_tenants_own(aws):
    _, file = upload(aws, jsonl([line("x")]))
    status, answer = openai_batch(aws, file["id"], tenant="globex")
    assert status == 400 and "not a file of yours" in answer["error"]["message"]
    for method, path in (("GET", f"/v1/files/{file['id']}"), ("GET", f"/v1/files/{file['id']}/content")):
        status, _, raw = call(aws, method, path, tenant="globex")
        assert status == 404 and json.loads(raw)["error"]["code"] == "not_found"
    status, _, raw = call(aws, "DELETE", f"/v1/files/{file['id']}", tenant="globex")
    assert status == 404
    status, _, raw = call(aws, "GET", "/v1/files", tenant="globex")
    assert json.loads(raw)["data"] == []
    status, _, raw = call(aws, "GET", f"/v1/files/{file['id']}")
    assert status == 200 and json.loads(raw)["id"] == file["id"]


def test_files_list_newest_first_page_by_page_and_a_deleted_file_is_gone(aws):
    made = [upload(aws, jsonl([line(str(i))]))[1]["id"] for i in range(3)]
    pages, after = [], None
    while True:
        _, _, raw = call(aws, "GET", "/v1/files", query={"limit": "1", **({"after": after} if after else {})})
        page = json.loads(raw)
        pages += [f["id"] for f in page["data"]]
        if not page["has_more"]:
            break
        after = page["last_id"]
    assert pages == made[::-1]
    status, _, raw = call(aws, "DELETE", f"/v1/files/{made[0]}")
    assert status == 200 and json.loads(raw) == {"id": made[0], "object": "file", "deleted": True}
    status, _, _ = call(aws, "GET", f"/v1/files/{made[0]}")
    assert status == 404


@pytest.mark.parametrize(
    ("content", "purpose", "status", "message"),
    [
        (b'{"custom_id": "a"}\n', "fine-tune", 400, "purpose 'fine-tune' is not served"),
        (b"", "batch", 400, "empty"),
        (b"\xff\xfe not text", "batch", 400, "UTF-8"),
        (b"x" * (4 * 1024 * 1024 + 1), "batch", 413, "POST /v1/batches/uploads"),
    ],
)
def test_a_bad_upload_is_refused_and_stores_nothing(aws, content, purpose, status, message):
    answer_status, answer = upload(aws, content, purpose=purpose)
    assert answer_status == status and message in answer["error"]["message"], answer
    assert aws.s3.list_objects_v2(Bucket=aws.resources.bucket_name).get("KeyCount", 0) == 0


def test_an_upload_that_is_not_multipart_is_a_400(aws):
    status, _, raw = call(aws, "POST", "/v1/files", body=b"{}", headers={"content-type": "application/json"})
    assert status == 400 and "multipart/form-data" in json.loads(raw)["error"]["message"]


def test_a_line_for_another_endpoint_is_refused_naming_it(aws):
    _, file = upload(aws, jsonl([line("a"), line("b", url="/v1/embeddings")]))
    status, answer = openai_batch(aws, file["id"])
    assert status == 400 and "request 2 (b): url '/v1/embeddings'" in answer["error"]["message"]


@pytest.mark.parametrize("file_id", ["file-nope", "file-" + "0" * 32, "batch_123", ""])
def test_an_unknown_input_file_id_is_a_400(aws, file_id):
    status, answer = openai_batch(aws, file_id)
    assert status == 400, answer


def test_batches_list_pages_with_openais_after_cursor(aws):
    made = [create_inline(aws, i) for i in range(3)]
    seen, after = [], None
    while True:
        query = {"limit": "1", **({"after": after} if after else {})}
        status, page = aws.api("GET", "/v1/batches", query=query, function="api_batches")
        assert status == 200 and page["object"] == "list"
        seen += [b["id"] for b in page["data"]]
        if not page["has_more"]:
            break
        after = page["last_id"]
    assert seen == made[::-1]


def create_inline(aws, i: int) -> str:
    body = {
        "requests": [
            {"custom_id": "x", "body": {"model": "demo-chat", "messages": [{"role": "user", "content": str(i)}]}}
        ]
    }
    status, batch = aws.api("POST", "/v1/batches", body=body, function="api_batches")
    assert status == 200, batch
    return batch["id"]


S3_USER_METADATA_BYTES = 2048  # S3's limit on an object's user-defined metadata, keys and values in UTF-8


def metadata_bytes(metadata: dict[str, str]) -> int:
    """User metadata as S3 counts it, each key with the x-amz-meta- prefix of the header it is sent in (which
    can only count more than S3 does)."""
    return sum(len(f"x-amz-meta-{key}".encode()) + len(value.encode()) for key, value in metadata.items())


def test_a_file_name_beyond_s3s_metadata_limit_is_a_400_before_anything_is_stored(aws):
    bucket = aws.resources.bucket_name
    _, small = upload(aws, jsonl([line("a")]), name="in.jsonl")
    sent = aws.s3.head_object(Bucket=bucket, Key=upload_key("acme", small["id"]))["Metadata"]
    room = S3_USER_METADATA_BYTES - (metadata_bytes(sent) - len(sent["filename"]))
    at_limit = "😀" * (room // 12) + "a" * (room % 12)  # an emoji travels percent-encoded: 12 bytes
    status, fits = upload(aws, jsonl([line("a")]), name=at_limit)
    assert status == 200 and fits["filename"] == at_limit, fits
    stored = aws.s3.head_object(Bucket=bucket, Key=upload_key("acme", fits["id"]))["Metadata"]
    assert metadata_bytes(stored) == S3_USER_METADATA_BYTES
    objects = aws.s3.list_objects_v2(Bucket=bucket)["KeyCount"]
    for name in (at_limit + "a", "😀" * 255):
        assert metadata_bytes({**stored, "filename": quote(name, safe="")}) > S3_USER_METADATA_BYTES
        status, answer = upload(aws, jsonl([line("a")]), name=name)
        assert status == 400 and answer["error"]["code"] == "filename_too_long", answer
        assert "2048 bytes" in answer["error"]["message"]
    assert aws.s3.list_objects_v2(Bucket=bucket)["KeyCount"] == objects
