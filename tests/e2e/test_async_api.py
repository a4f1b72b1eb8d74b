import json
import re
import socket
import uuid
from urllib.parse import urlparse

import pytest

from asyncinfer.store.dynamodb import DynamoTaskStore
from asyncinfer.surfaces.async_api import internal_id
from tests.e2e.conftest import TABLE, start_stack, stop_stack, wait_for

pytestmark = pytest.mark.e2e

# The reference page's request body, verbatim.
REFERENCE = """{
"model": "mirothinker-1-7-deepresearch-mini",
"messages": [
{
"role": "user",
"content": "Write a detailed research report on quantum computing advances in 2026."
}
]
}"""
TASK_ID = re.compile(r"^task_[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def submit(client, body=REFERENCE):
    response = client.post("/v1/async", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 200, response.text
    return response.json()


def test_the_reference_example_runs_to_completion(stack):
    with stack.client() as client:
        created = submit(client)
        assert set(created) == {"id", "status", "created_at"}
        assert TASK_ID.match(created["id"])
        assert created["status"] == "CREATED"
        assert ISO.match(created["created_at"])

        seen = []

        def completed():
            task = client.get(f"/v1/async/{created['id']}").json()
            if not seen or seen[-1] != task["status"]:
                seen.append(task["status"])
            return task if task["status"] == "COMPLETED" else None

        task = wait_for(completed, what="COMPLETED")
    assert "IN_PROGRESS" in seen
    assert seen[-1] == "COMPLETED"
    assert set(seen) <= {"CREATED", "IN_PROGRESS", "COMPLETED"}
    assert "quantum computing" in task["choices"][0]["message"]["content"]
    assert task["usage"]["completion_tokens"] > 0
    assert task["usage"]["total_tokens"] == task["usage"]["prompt_tokens"] + task["usage"]["completion_tokens"]
    for name in ("created_at", "started_at", "completed_at"):
        assert ISO.match(task[name])


def test_a_task_survives_its_client_disconnecting(stack):
    key = stack.new_key("disconnect-" + uuid.uuid4().hex[:8])
    body = REFERENCE.encode()
    target = urlparse(stack.url)
    raw = (
        f"POST /v1/async HTTP/1.1\r\nHost: {target.netloc}\r\nAuthorization: Bearer {key}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    # Fire and forget: send the request and hang up without reading a byte of the answer.
    with socket.create_connection((target.hostname, target.port)) as sock:
        sock.sendall(raw)
        sock.shutdown(socket.SHUT_RDWR)

    with stack.client(key) as fresh:
        listed = wait_for(lambda: fresh.get("/v1/async").json()["tasks"], what="the submitted task to be listed")
        assert len(listed) == 1
        done = wait_for(
            lambda: (t := fresh.get(f"/v1/async/{listed[0]['id']}").json())["status"] == "COMPLETED" and t,
            what="COMPLETED",
        )
    assert done["choices"][0]["message"]["content"]


def test_a_client_that_polls_from_a_new_connection_gets_the_result(stack):
    with stack.client() as first:
        task_id = submit(first)["id"]
    with stack.client() as second:
        done = wait_for(lambda: (t := second.get(f"/v1/async/{task_id}").json())["status"] == "COMPLETED" and t)
    assert done["id"] == task_id


def test_cancel_while_in_progress_stops_the_worker(stack):
    store = DynamoTaskStore(stack.aws("dynamodb"), TABLE)
    with stack.client() as client:
        task_id = submit(client)["id"]
        wait_for(lambda: client.get(f"/v1/async/{task_id}").json()["status"] == "IN_PROGRESS", what="IN_PROGRESS")
        response = client.post(f"/v1/async/{task_id}/cancel")
        assert response.status_code == 200
        cancelled = response.json()
        assert cancelled["status"] == "CANCELLED"
        assert ISO.match(cancelled["cancelled_at"])
        # The worker acknowledges its message once it has stopped.
        wait_for(lambda: stack.queue_depth() == 0, what="the worker to let go of the task")
        final = client.get(f"/v1/async/{task_id}").json()
    assert final["status"] == "CANCELLED"
    assert "choices" not in final and "completed_at" not in final
    events = store.read_events("dev", internal_id(task_id))
    words = sum(len(e["text"].split()) for e in events if e["type"] == "delta")
    assert words < 60  # the full demo answer is about 100 words; generation stopped early


def test_tenants_cannot_see_or_touch_each_others_tasks(stack):
    other_key = stack.new_key("tenant-b-" + uuid.uuid4().hex[:8])
    with stack.client() as a, stack.client(other_key) as b:
        task_id = submit(a)["id"]
        nonexistent = "task_" + str(uuid.UUID(int=uuid.UUID(task_id[5:]).int ^ 1))
        theirs, missing = b.get(f"/v1/async/{task_id}"), b.get(f"/v1/async/{nonexistent}")
        assert theirs.status_code == missing.status_code == 404
        assert theirs.json() == missing.json() == {"error": {"code": "not_found", "message": "No task with that id"}}
        cancel_theirs = b.post(f"/v1/async/{task_id}/cancel")
        cancel_missing = b.post(f"/v1/async/{nonexistent}/cancel")
        assert cancel_theirs.status_code == cancel_missing.status_code == 404
        assert cancel_theirs.json() == cancel_missing.json()
        assert task_id not in [t["id"] for t in b.get("/v1/async?limit=100").json()["tasks"]]
        assert a.get(f"/v1/async/{task_id}").json()["status"] != "CANCELLED"
    for key in ("", "wrong-key"):
        with stack.client(key) as stranger:
            for response in (
                stranger.get("/v1/async"),
                stranger.get(f"/v1/async/{task_id}"),
                stranger.post("/v1/async", content=REFERENCE),
            ):
                assert response.status_code == 401
                assert response.json()["error"]["code"] == "unauthorized"


BAD_BODIES = [
    ("{not json", 400, "invalid_json"),
    ('{"messages": [{"role": "user", "content": "x"}]}', 400, "invalid_request"),
    ('{"model": "mirothinker-1-7-deepresearch-mini"}', 400, "invalid_request"),
    ('{"model": "mirothinker-1-7-deepresearch-mini", "messages": "x"}', 400, "invalid_request"),
    (
        '{"model": "mirothinker-1-7-deepresearch-mini", "messages": [{"role": "user", "content": "x"}], '
        '"max_tokens": "many"}',
        400,
        "invalid_request",
    ),
    ('{"model": "no-such-model", "messages": [{"role": "user", "content": "x"}]}', 400, "unknown_model"),
    (
        json.dumps({"model": "demo-chat", "messages": [{"role": "user", "content": "x" * (1024 * 1024)}]}),
        413,
        "request_too_large",
    ),
]


def test_bad_input_gets_a_json_error_and_creates_nothing(stack):
    key = stack.new_key("bad-input-" + uuid.uuid4().hex[:8])
    with stack.client(key) as client:
        for body, status, code in BAD_BODIES:
            response = client.post("/v1/async", content=body, headers={"Content-Type": "application/json"})
            assert response.status_code == status, body[:80]
            assert response.headers["content-type"].startswith("application/json")
            assert response.json()["error"]["code"] == code
            assert response.json()["error"]["message"]
        assert client.get("/v1/async").json() == {"tasks": [], "has_more": False, "next_cursor": None}


def test_listing_pages_newest_first_and_filters_by_status(stack):
    key = stack.new_key("lister-" + uuid.uuid4().hex[:8])
    with stack.client(key) as client:
        ids = [submit(client)["id"] for _ in range(3)]
        first = client.get("/v1/async", params={"limit": 2}).json()
        assert [t["id"] for t in first["tasks"]] == ids[::-1][:2]
        assert first["has_more"] is True
        rest = client.get("/v1/async", params={"limit": 2, "cursor": first["next_cursor"]}).json()
        assert [t["id"] for t in rest["tasks"]] == ids[:1]
        assert client.post(f"/v1/async/{ids[1]}/cancel").json()["status"] == "CANCELLED"
        cancelled = client.get("/v1/async", params={"status": "CANCELLED"}).json()["tasks"]
        assert [t["id"] for t in cancelled] == [ids[1]]
        assert client.get("/v1/async", params={"limit": 0}).status_code == 400


def test_unknown_routes_and_methods_answer_json_404(stack):
    with stack.client() as client:
        # A REST API answers a method a resource lacks like an unknown path; so does the dev server.
        responses = (
            client.get("/v1/nothing-here"),
            client.put("/v1/async"),
            client.post("/v1/async/x/events"),
            client.request("TRACE", "/v1/async"),  # a method no route has
        )
        for response in responses:
            assert response.status_code == 404
            assert response.json() == {"error": {"code": "route_not_found", "message": "No such route"}}
        # A path with a decoded newline (found by Schemathesis): JSON too, never a plain-text page.
        odd = client.delete("/v1/messages/async/%F3%A1%BF%A7%0A%29")
        assert odd.status_code == 404 and odd.headers["content-type"] == "application/json"
        assert odd.json()["error"]["code"] in {"not_found", "route_not_found"}


def test_ctrl_c_stops_the_whole_stack_cleanly():
    own = start_stack()
    with own.client() as client:
        assert client.get("/v1/async").status_code == 200
        assert client.post("/v1/async", content=REFERENCE).status_code == 200  # logs and a metric, if on
    assert stop_stack(own) == 0
    output = "".join(own.output)
    assert "asyncinfer stopped" in output
    assert "Traceback" not in output
    # Quiet by default: the handlers' INFO logs and metric lines stay off on a laptop.
    assert '"level":"INFO"' not in output and '"_aws"' not in output


def test_idempotent_submit_and_delete_over_http(stack):
    key = "e2e-" + uuid.uuid4().hex
    headers = {"Content-Type": "application/json", "Idempotency-Key": key}
    with stack.client() as client:
        first = client.post("/v1/async", content=REFERENCE, headers=headers)
        again = client.post("/v1/async", content=REFERENCE, headers=headers)
        assert first.status_code == again.status_code == 200
        assert again.json()["id"] == first.json()["id"]
        other = client.post("/v1/async", content=REFERENCE.replace("2026", "2027"), headers=headers)
        assert other.status_code == 409
        assert other.json()["error"]["code"] == "idempotency_conflict"

        task_id = first.json()["id"]
        deleted = client.delete(f"/v1/async/{task_id}")
        assert deleted.status_code == 200 and deleted.json() == {"id": task_id, "deleted": True}
        assert client.get(f"/v1/async/{task_id}").status_code == 404
        assert client.get(f"/v1/async/{task_id}/events").status_code == 404
        assert task_id not in [t["id"] for t in client.get("/v1/async?limit=100").json()["tasks"]]
