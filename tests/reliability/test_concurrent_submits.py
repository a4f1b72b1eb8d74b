"""Duplicate submits racing each other: one task and one queue message, whatever the timing."""

import threading
import uuid

import pytest

from asyncinfer import wiring
from asyncinfer.config import ApiSettings
from asyncinfer.domain.submission import Submission
from asyncinfer.surfaces.privategpt import chat_body

pytestmark = pytest.mark.integration
BODY = {"model": "demo-chat", "messages": [{"role": "user", "content": "Exactly once, please."}]}
PARALLEL = 24


def race(submit) -> tuple[list, list]:
    barrier = threading.Barrier(PARALLEL)
    results, errors = [], []

    def one():
        service = wiring.task_service(ApiSettings())  # its own clients, as separate Lambda instances have
        barrier.wait()
        try:
            results.append(submit(service))
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=one) for _ in range(PARALLEL)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results, errors


def queued(emulator) -> list[str]:
    running, resources = emulator
    sqs = running.client("sqs")
    bodies = []
    while True:
        batch = sqs.receive_message(QueueUrl=resources.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get(
            "Messages", []
        )
        if not batch:
            return bodies
        bodies += [m["Body"] for m in batch]


@pytest.mark.parametrize("surface", ["async", "perplexity", "netmind"])
def test_parallel_identical_submits_with_one_idempotency_key(emulator, surface):
    key = f"race-{uuid.uuid4().hex}"
    tenant = f"t-{uuid.uuid4().hex[:8]}"

    def submit(service):
        how = Submission(surface=surface, idempotency_key=key)
        if surface == "netmind":
            return service.submit_generation(tenant, {"model": "demo-image", "config": {"prompt": "p"}}, how).id
        return service.submit_chat(tenant, BODY, how).id

    results, errors = race(submit)
    assert not errors, errors
    assert len(results) == PARALLEL and len(set(results)) == 1
    service = wiring.task_service(ApiSettings())
    assert [t.id for t in service.list(tenant, limit=100, after=None, status=None).tasks] == results[:1]
    messages = [m for m in queued(emulator) if tenant in m]
    assert len(messages) == 1


def test_parallel_submits_with_one_message_id_make_one_task_and_conflicts(emulator):
    tenant = f"t-{uuid.uuid4().hex[:8]}"

    def submit(service):
        chat = chat_body({"messages": BODY["messages"]}, "demo-chat")
        return service.submit_chat(tenant, chat, Submission(surface="privategpt", message_id="same-id")).id

    results, errors = race(submit)
    assert len(results) == 1
    assert len(errors) == PARALLEL - 1 and {type(e).__name__ for e in errors} == {"NameConflict"}
    assert len([m for m in queued(emulator) if tenant in m]) == 1
