import uuid

import pytest

from asyncinfer.domain.errors import InvalidRequest, TaskNotFound
from asyncinfer.domain.model import Task, TaskError, TaskKind, TaskStatus, new_task_id
from asyncinfer.store.base import Page
from asyncinfer.surfaces import async_api

T0 = 1775642400000  # 2026-04-08T10:00:00Z


def make_task(**changes) -> Task:
    base = {
        "id": new_task_id(T0),
        "tenant": "acme",
        "kind": TaskKind.CHAT,
        "model": "demo-chat",
        "created_at": T0,
        "updated_at": T0,
    }
    return Task(**{**base, **changes})


def test_public_ids_round_trip_and_look_like_the_reference():
    task = make_task()
    public = async_api.public_id(task.id)
    assert public.startswith("task_")
    assert uuid.UUID(public.removeprefix("task_")).hex == task.id
    assert async_api.internal_id(public) == task.id


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "task_",
        "task_nope",
        "550e8400-e29b-41d4-a716-446655440000",
        "task_550e8400-e29b-41d4-a716-446655440000",
        "TASK_01a20170-a347-7c35-9be7-d14fabf70ab9",
        "task_01a20170a3477c359be7d14fabf70ab9",
    ],
)
def test_malformed_ids_are_simply_not_found(bad):
    with pytest.raises(TaskNotFound):
        async_api.internal_id(bad)


def test_created_answer_is_exactly_the_reference_shape():
    task = make_task()
    assert async_api.summary(task) == {
        "id": async_api.public_id(task.id),
        "status": "CREATED",
        "created_at": "2026-04-08T10:00:00Z",
    }


def test_cancelled_summary_has_cancelled_at():
    task = make_task(status=TaskStatus.CANCELLED, cancelled_at=T0 + 75_000)
    assert async_api.summary(task)["cancelled_at"] == "2026-04-08T10:01:15Z"


def test_completed_detail_carries_the_chat_completion_and_keeps_the_task_id():
    task = make_task(status=TaskStatus.COMPLETED, started_at=T0 + 2000, completed_at=T0 + 330_000)
    completion = {
        "id": "chatcmpl-x",
        "object": "chat.completion",
        "choices": [{"message": {"content": "hi"}}],
        "usage": {"total_tokens": 3},
    }
    detail = async_api.detail(task, completion)
    assert detail["id"] == async_api.public_id(task.id)
    assert detail["completed_at"] == "2026-04-08T10:05:30Z"
    assert detail["choices"][0]["message"]["content"] == "hi"
    assert detail["usage"] == {"total_tokens": 3}


def test_in_progress_detail_has_no_result_and_failed_has_error():
    assert "choices" not in async_api.detail(make_task(status=TaskStatus.IN_PROGRESS), {"choices": []})
    failed = make_task(status=TaskStatus.FAILED, failed_at=T0, error=TaskError(code="timeout", message="late"))
    assert async_api.detail(failed, None)["error"] == {"code": "timeout", "message": "late"}


def test_listing_gives_a_public_cursor():
    tasks = [make_task(), make_task()]
    page = async_api.listing(Page(tasks=tasks, next_cursor=tasks[-1].id))
    assert page["has_more"] is True
    assert async_api.internal_id(page["next_cursor"]) == tasks[-1].id
    assert async_api.listing(Page(tasks=[], next_cursor=None)) == {"tasks": [], "has_more": False, "next_cursor": None}


def test_list_params():
    task = make_task()
    cursor = async_api.public_id(task.id)
    assert async_api.list_params({}) == (20, None, None)
    assert async_api.list_params({"limit": "5", "cursor": cursor, "status": "completed"}) == (
        5,
        task.id,
        TaskStatus.COMPLETED,
    )


@pytest.mark.parametrize("params", [{"limit": "x"}, {"limit": "-1"}, {"cursor": "garbage"}, {"status": "DONE"}])
def test_bad_list_params_are_invalid_requests(params):
    with pytest.raises(InvalidRequest):
        async_api.list_params(params)


def test_every_surface_spelling_of_an_id_reads_the_same_task():
    from asyncinfer.domain.ids import as_uuid, parse_any
    from asyncinfer.domain.model import new_task_id

    task_id = new_task_id()
    for spelling in (f"task_{as_uuid(task_id)}", as_uuid(task_id), task_id, f"msg_{task_id}"):
        assert parse_any(spelling) == task_id
    for bad in (f"msg_{as_uuid(task_id)}", f"task_{task_id}", task_id.upper(), f"x{task_id}", ""):
        with pytest.raises(TaskNotFound):
            parse_any(bad)
