"""A task's read, rendered by every surface in the states the handlers rarely reach in a test (a fair queue's
estimated place, a class that started nothing lately, a tool loop's steps, an upstream job's elapsed seconds,
deadlines and an execution timeout), is as the document's models say: no field they do not name, none
missing, each of its documented type and format. tests/integration/test_openapi_answers.py checks every route's
answers through the real handlers."""

import pytest

from asyncinfer.domain.lanes import Standing
from asyncinfer.domain.model import Cost, Progress, ServiceTier, Task, TaskError, TaskKind, TaskStatus, new_task_id
from asyncinfer.surfaces import async_api, docs, netmind, perplexity, privategpt
from asyncinfer.tasks.reads import TaskRead
from tests.support.openapi import answer_errors

NOW = 1_750_000_000_000
READS = {
    async_api: "/v1/async/{id}",
    perplexity: "/async/chat/completions/{id}",
    privategpt: "/v1/messages/async/{id}/status",
    netmind: "/v1/generation/{id}",
}


def task(**changes) -> Task:
    return Task(
        id=new_task_id(), tenant="acme", kind=TaskKind.CHAT, model="m", created_at=NOW, updated_at=NOW, **changes
    )


RUNNING = {"status": TaskStatus.IN_PROGRESS, "started_at": NOW + 1_000}
STATES = {
    "waiting behind other tenants": (
        task(start_by=NOW + 60_000, execution_timeout_ms=30_000, service_tier=ServiceTier.FLEX),
        Standing(queue_position=7, estimated_start_at=NOW + 5_000, estimated=True),
    ),
    "waiting in a class that started nothing lately": (task(), Standing(queue_position=0, estimated_start_at=None)),
    "a tool loop's steps": (task(**RUNNING, finish_by=NOW + 90_000, progress=Progress(step=2, steps=4)), None),
    "an upstream job's percent": (task(**RUNNING, progress=Progress(percent=42.5, message="rendering")), None),
    "an upstream job's seconds": (task(**RUNNING, progress=Progress(elapsed_seconds=30, estimated_seconds=90)), None),
    "failed": (task(status=TaskStatus.FAILED, failed_at=NOW, error=TaskError(code="x", message="y")), None),
    "cancelled": (task(status=TaskStatus.CANCELLED, cancelled_at=NOW, deleted_at=NOW), None),
    "a complete_by task on its way": (
        task(service_tier=ServiceTier.FLEX, path="flex", complete_by=NOW + 60_000, cost_on_demand=Cost(total_cost=1)),
        Standing(queue_position=0, estimated_start_at=None),
    ),
}


@pytest.mark.parametrize("state", STATES)
@pytest.mark.parametrize("surface", READS, ids=lambda surface: surface.__name__.rsplit(".", 1)[1])
def test_a_read_in_every_state_is_as_its_model_documents_it(surface, state):
    made, standing = STATES[state]
    media = surface is netmind
    shown = made.model_copy(update={"kind": TaskKind.IMAGE}) if media else made
    view = TaskRead(shown, 1000, lambda key: f"https://files.example/{key}", lambda _: None, lambda _: standing)
    answer = surface.read(view)
    assert answer_errors(docs.document(), "GET", READS[surface], answer) == []
    assert ("queue_position" in answer) == (standing is not None)
