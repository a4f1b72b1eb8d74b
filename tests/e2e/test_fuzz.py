"""Schemathesis against /openapi.json on the local stack: generated requests to every operation; no
answer may be a server error or differ from the document (status code, content type, headers, body
schema, and each SSE event's schema). `FUZZ_EXAMPLES` per operation (15 here; `make fuzz` sends 60).

Not checked: whether the document's request schemas accept exactly what the handlers accept
(Schemathesis' ST201/ST202; e.g. a model name not in the registry is schema-valid but refused), and
405 for undeclared methods (ST204): like API Gateway, an unknown method is a 404 route_not_found."""

import os
import uuid

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.e2e.conftest import wait_for

pytestmark = pytest.mark.e2e
CHAT = {"model": "demo-chat", "messages": [{"role": "user", "content": "fuzz"}]}
ENDED = {"completed", "failed", "cancelled"}


def seed(client, path: str) -> tuple[str, str]:
    """A task (or batch, or webhook delivery) that exists and has ended, in the id format of the surface
    `path` is on: generated ids mostly miss, and a real one is what reaches the task, its result and its
    event stream."""
    if path.startswith("/v1/async"):
        task_id, status_path = client.post("/v1/async", json=CHAT).json()["id"], "/v1/async/{}"
    elif path.startswith("/async/chat"):
        task_id = client.post("/async/chat/completions", json={"request": CHAT}).json()["id"]
        status_path = "/async/chat/completions/{}"
    elif path.startswith("/v1/batches"):
        batch = {"requests": [{"custom_id": "fuzz", "body": CHAT}]}
        task_id, status_path = client.post("/v1/batches", json=batch).json()["id"], "/v1/batches/{}"
    elif path.startswith("/v1/webhooks/deliveries"):
        # A delivery that has ended: its receiver's host does not resolve, so its one attempt fails.
        task = client.post("/v1/async", json={**CHAT, "webhook": {"url": "https://fuzz.invalid/hook"}}).json()
        task_id = f"msg_{task['id'].removeprefix('task_').replace('-', '')}_task_completed"
        status_path = "/v1/webhooks/deliveries/{}"
    elif path.startswith("/v1/messages"):
        task_id, status_path = f"fuzz-{uuid.uuid4().hex}", "/v1/messages/async/{}/status"
        client.post("/v1/messages/async", params={"message_id": task_id}, json=CHAT).raise_for_status()
    else:
        body = {"model": "demo-image", "config": {"prompt": "fuzz"}}
        task_id, status_path = client.post("/v1/generation", json=body).json()["id"], "/v1/generation/{}"
    return task_id, status_path.format(task_id)


EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "15"))
CHECKS = (
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
)


def test_no_generated_request_gets_a_server_error_or_an_undocumented_answer(stack):
    schema = schemathesis.openapi.from_url(f"{stack.url}/openapi.json")
    headers = {"Authorization": f"Bearer {stack.key}"}
    sent = 0
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 20

    client = stack.client()
    # One fresh task per operation: a generated DELETE or cancel must not take another's task.
    seeded = {op.label: seed(client, op.path) for op in operations if "{id}" in op.path}
    for _, status_path in seeded.values():
        wait_for(lambda p=status_path: client.get(p).json().get("status", "").lower() in ENDED, what="seeded task")
    for operation in operations:
        real = seeded[operation.label][0] if operation.label in seeded else None

        @given(case=operation.as_strategy(), use_real=st.booleans())
        @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
        def check(case, use_real):
            nonlocal sent
            if real and use_real:  # noqa: B023 (each check runs within its own iteration)
                case.path_parameters = {**(case.path_parameters or {}), "id": real}  # noqa: B023
            response = case.call(headers=headers, timeout=30)
            sent += 1
            case.validate_response(response, checks=CHECKS)

        check()
    client.close()
    print(f"\n{sent} generated requests over {len(operations)} operations: no server error, all as documented")
    assert sent >= len(operations) * 2
