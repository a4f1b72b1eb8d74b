"""The client's task views (asyncinfer_client.views): one status vocabulary over every surface's spelling, and
the provider's answer still a dict."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from asyncinfer_client import OutputFile, TaskView


@pytest.mark.parametrize(
    ("spelled", "status"),
    [
        ("CREATED", "created"),
        ("pending", "created"),
        ("IN_PROGRESS", "in_progress"),
        ("processing", "in_progress"),
        ("COMPLETED", "completed"),
        ("completed", "completed"),
        ("FAILED", "failed"),
        ("CANCELLED", "cancelled"),
        ("cancelled", "cancelled"),
    ],
)
def test_each_surfaces_spelling_reads_as_one_status(spelled, status):
    view = TaskView({"id": "x", "status": spelled})
    assert view.status == status
    assert view.done == (status in ("completed", "failed", "cancelled"))
    assert view["status"] == spelled, "the provider's own spelling is still there"


def test_a_chat_view_is_still_its_answer_and_says_its_text_usage_and_time():
    answer = {
        "id": "task_1",
        "status": "COMPLETED",
        "model": "demo-chat",
        "created_at": "2026-12-06T10:00:00Z",
        "choices": [{"message": {"role": "assistant", "content": "hello"}}],
        "usage": {"total_tokens": 3},
    }
    view = TaskView(answer)
    assert view == answer and json.loads(json.dumps(view)) == answer and view.raw == answer
    assert type(view.raw) is dict
    assert (view.id, view.model, view.text, view.usage) == ("task_1", "demo-chat", "hello", {"total_tokens": 3})
    assert view.created_at == datetime(2026, 12, 6, 10, tzinfo=UTC)
    assert view.files == [] and view.error is None


def test_a_generation_view_lists_its_files_and_reads_netmind_times():
    view = TaskView(
        {
            "id": "ab" * 16,
            "status": "completed",
            "created_at": "2026-12-06 10:00:00",
            "result": {"data": [{"url": "http://127.0.0.1/x", "file_name": "a.png", "file_type": "image"}]},
        }
    )
    assert view.files == [OutputFile("a.png", "http://127.0.0.1/x", "image")]
    assert view.created_at == datetime(2026, 12, 6, 10, tzinfo=UTC)
    assert view.text is None


def test_a_failed_view_says_its_error():
    view = TaskView({"id": "t", "status": "FAILED", "error": {"code": "timeout", "message": "took too long"}})
    assert (view.status, view.error.code, view.error.message) == ("failed", "timeout", "took too long")
