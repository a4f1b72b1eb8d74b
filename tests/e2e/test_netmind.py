"""The NetMind generation surface over HTTP: the reference's requests verbatim, real files downloaded
through the returned presigned URLs and decoded."""

import io
import json
import shutil
import subprocess
import wave

import httpx
import pytest
from PIL import Image

from tests.e2e.conftest import wait_for

pytestmark = pytest.mark.e2e

REFERENCE_IMAGE = """{
"model": "Qwen/Qwen-Image",
"config": {
"prompt": "Generate a cup of coffee",
"image_size": "landscape_4_3",
"num_inference_steps": 30,
"guidance_scale": 2.5,
"num_images": 1,
"enable_safety_checker": true,
"output_format": "png",
"acceleration": "none"
}
}"""
REFERENCE_AUDIO = {
    "model": "hkchengrex/MMAudio",
    "config": {"prompt": "The summer wind blows over the willow branches.", "duration": 100},
}


def curl(*args: str) -> dict:
    done = subprocess.run(
        [shutil.which("curl") or "curl", "--silent", *args], capture_output=True, text=True, timeout=15
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def completed(client, generation_id):
    return wait_for(
        lambda: (g := client.get(f"/v1/generation/{generation_id}").json())["status"] == "completed" and g,
        what="completed",
    )


def test_the_reference_image_example_end_to_end(stack):
    # curl -X POST '<host>/v1/generation' --header 'Authorization: {{API_TOKEN}}' --header 'Content-Type: ...'
    created = curl(
        "-X",
        "POST",
        f"{stack.url}/v1/generation",
        "--header",
        f"Authorization: {stack.key}",
        "--header",
        "Content-Type: application/json",
        "--data-raw",
        REFERENCE_IMAGE,
    )
    assert created["status"] == "pending" and created["result"] == {} and created["is_deleted"] is False
    with stack.client() as client:
        done = completed(client, created["id"])
        (item,) = done["result"]["data"]
        assert item["file_type"] == "image"
        download = httpx.get(item["url"], timeout=10)  # no API key: the URL itself is the permission
        assert download.status_code == 200
        image = Image.open(io.BytesIO(download.content))
        image.load()
        assert (image.format, image.size) == ("PNG", (1024, 768))

        listed = curl(f"{stack.url}/v1/generation", "--header", f"Authorization: {stack.key}")
        assert created["id"] in [g["id"] for g in listed["generation_list"]]

        deleted = curl(
            "-X", "DELETE", f"{stack.url}/v1/generation/{created['id']}", "--header", f"Authorization: {stack.key}"
        )
        assert deleted == {"message": "Generation deleted"}
        after = client.get(f"/v1/generation/{created['id']}").json()
        assert after["is_deleted"] is True and after["result"] == {}
        assert httpx.get(item["url"], timeout=10).status_code == 404  # the file itself is gone


def test_the_reference_audio_example_with_bearer(stack):
    with stack.client() as client:  # the page's Python example sends 'Bearer {{API_TOKEN}}'
        created = client.post(
            "/v1/generation", content=json.dumps(REFERENCE_AUDIO), headers={"Content-Type": "application/json"}
        )
        assert created.status_code == 200, created.text
        done = completed(client, created.json()["id"])
        (item,) = done["result"]["data"]
        download = httpx.get(item["url"], timeout=10)
    with wave.open(io.BytesIO(download.content)) as wav:
        assert wav.getnframes() / wav.getframerate() == pytest.approx(100)


def test_generation_errors_are_json_4xx(stack):
    with stack.client() as client:
        bad = client.post("/v1/generation", json={"model": "Qwen/Qwen-Image", "config": {"prompt": ""}})
        assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_request"
        unknown = client.post("/v1/generation", json={"model": "nope", "config": {"prompt": "x"}})
        assert unknown.status_code == 400 and unknown.json()["error"]["code"] == "unknown_model"
        assert client.get("/v1/generation/" + "0" * 32).status_code == 404
