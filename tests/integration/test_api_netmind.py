"""The NetMind generation surface (reference 003) through its handler, against moto."""

import io
import json
import re
import wave
from urllib.parse import parse_qs, urlparse

import pytest
from PIL import Image

from asyncinfer.domain.model import TaskStatus
from tests.conftest import load_event

pytestmark = pytest.mark.integration
STAMP = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$")
IMAGE = json.loads(load_event("api_netmind_create")["body"])  # the reference's image request, verbatim
AUDIO = {
    "model": "hkchengrex/MMAudio",
    "config": {"prompt": "The summer wind blows over the willow branches.", "duration": 100},
}


def call(aws, method, path, **kwargs):
    return aws.api(method, path, function="api_netmind", **kwargs)


def key_of(aws, url):
    parsed = urlparse(url)
    path = parsed.path.lstrip("/")
    bucket = aws.resources.bucket_name
    return path.removeprefix(bucket + "/") if path.startswith(bucket + "/") else path


def test_the_reference_image_request_makes_a_real_png_of_the_asked_size(aws):
    status, created = call(aws, "POST", "/v1/generation", body=IMAGE)
    assert status == 200
    assert re.match(r"^[0-9a-f]{32}$", created["id"])
    assert created["status"] == "pending" and created["result"] == {}
    assert created["is_deleted"] is False and created["deleted_at"] is None
    assert STAMP.match(created["created_at"]) and STAMP.match(created["updated_at"])
    aws.run_worker()
    status, done = call(aws, "GET", f"/v1/generation/{created['id']}")
    assert status == 200 and done["status"] == "completed"
    (item,) = done["result"]["data"]
    assert set(item) == {"url", "file_id", "file_name", "file_type"}
    assert item["file_type"] == "image" and item["file_id"].startswith("file-")
    query = parse_qs(urlparse(item["url"]).query)
    assert "X-Amz-Signature" in query and query["X-Amz-Expires"] == ["3600"]
    body = aws.s3.get_object(Bucket=aws.resources.bucket_name, Key=key_of(aws, item["url"]))["Body"].read()
    image = Image.open(io.BytesIO(body))
    image.load()
    assert (image.format, image.size, image.mode) == ("PNG", (1024, 768), "RGB")
    # A fresh URL on every read.
    again = call(aws, "GET", f"/v1/generation/{created['id']}")[1]["result"]["data"][0]["url"]
    assert key_of(aws, again) == key_of(aws, item["url"])


def test_the_reference_audio_request_makes_a_real_wav_of_the_asked_duration(aws):
    _, created = call(aws, "POST", "/v1/generation", body=AUDIO)
    aws.run_worker()
    _, done = call(aws, "GET", f"/v1/generation/{created['id']}")
    (item,) = done["result"]["data"]
    assert item["file_type"] == "audio"
    body = aws.s3.get_object(Bucket=aws.resources.bucket_name, Key=key_of(aws, item["url"]))["Body"].read()
    with wave.open(io.BytesIO(body)) as wav:
        assert wav.getnchannels() == 1 and wav.getsampwidth() == 2
        assert wav.getnframes() / wav.getframerate() == pytest.approx(100)
    task = aws.store.get("acme", created["id"])
    assert task.usage.seconds == 100


def test_several_images_and_a_custom_size(aws):
    body = {
        "model": "demo-image",
        "config": {"prompt": "two cats", "num_images": 3, "image_size": {"width": 320, "height": 200}},
    }
    _, created = call(aws, "POST", "/v1/generation", body=body)
    aws.run_worker()
    data = call(aws, "GET", f"/v1/generation/{created['id']}")[1]["result"]["data"]
    assert len(data) == 3 and len({d["file_id"] for d in data}) == 3
    for item in data:
        raw = aws.s3.get_object(Bucket=aws.resources.bucket_name, Key=key_of(aws, item["url"]))["Body"].read()
        assert Image.open(io.BytesIO(raw)).size == (320, 200)


@pytest.mark.parametrize(
    "body, field",
    [
        ({"model": "Qwen/Qwen-Image"}, "config"),
        ({"model": "Qwen/Qwen-Image", "config": {}}, "config.prompt"),
        ({"model": "Qwen/Qwen-Image", "config": {"prompt": "x", "image_size": "huge"}}, "config.image_size"),
        ({"model": "Qwen/Qwen-Image", "config": {"prompt": "x", "num_images": 9}}, "config.num_images"),
        ({"model": "Qwen/Qwen-Image", "config": {"prompt": "x", "output_format": "jpeg"}}, "output_format"),
        ({"model": "hkchengrex/MMAudio", "config": {"prompt": "x", "duration": "long"}}, "config.duration"),
        ({"model": "demo-chat", "config": {"prompt": "x"}}, "demo-chat"),
        ({"model": "Qwen/Qwen-Image", "config": {"prompt": "x"}, "extra": 1}, "extra"),
    ],
)
def test_bad_generation_requests_are_400_and_store_nothing(aws, body, field):
    status, error = call(aws, "POST", "/v1/generation", body=body)
    assert status == 400 and field in error["error"]["message"], error
    assert aws.queue_depth() == 0


def test_list_shows_generations_only_and_delete_is_soft_and_purges(aws):
    _, chat = aws.api("POST", "/v1/async", body={"model": "demo-chat", "messages": [{"role": "user", "content": "hi"}]})
    _, first = call(aws, "POST", "/v1/generation", body=IMAGE)
    _, second = call(aws, "POST", "/v1/generation", body=AUDIO)
    aws.run_worker()
    listed = call(aws, "GET", "/v1/generation")[1]
    assert [g["id"] for g in listed["generation_list"]] == [second["id"], first["id"]]
    assert "next_token" not in listed
    page = call(aws, "GET", "/v1/generation", query={"limit": "1"})[1]
    assert [g["id"] for g in page["generation_list"]] == [second["id"]]
    rest = call(aws, "GET", "/v1/generation", query={"limit": "1", "next_token": page["next_token"]})[1]
    assert [g["id"] for g in rest["generation_list"]] == [first["id"]]
    # A chat task is no generation.
    assert call(aws, "GET", f"/v1/generation/{chat['id']}")[0] == 404

    keys = [o.key for o in aws.store.get("acme", first["id"]).outputs]
    assert call(aws, "DELETE", f"/v1/generation/{first['id']}") == (200, {"message": "Generation deleted"})
    status, gone = call(aws, "GET", f"/v1/generation/{first['id']}")
    assert status == 200 and gone["is_deleted"] is True and STAMP.match(gone["deleted_at"])
    assert gone["result"] == {}
    for key in keys:
        assert "Contents" not in aws.s3.list_objects_v2(Bucket=aws.resources.bucket_name, Prefix=key)
    assert [g["id"] for g in call(aws, "GET", "/v1/generation")[1]["generation_list"]] == [second["id"]]
    assert call(aws, "DELETE", f"/v1/generation/{first['id']}")[0] == 404


def test_the_async_surface_cannot_cancel_a_generation_and_netminds_delete_does(aws):
    _, created = call(aws, "POST", "/v1/generation", body=IMAGE)
    assert aws.api("POST", f"/v1/async/{created['id']}/cancel")[0] == 404  # it sees chat tasks only
    assert aws.store.get("acme", created["id"]).status == TaskStatus.CREATED
    assert call(aws, "DELETE", f"/v1/generation/{created['id']}")[0] == 200
    aws.run_worker()
    assert call(aws, "GET", f"/v1/generation/{created['id']}")[1]["status"] == "cancelled"
    assert aws.store.get("acme", created["id"]).status == TaskStatus.CANCELLED
