"""PrivateGPT's message ids: a client's own (its message_id) or any spelling of a task id. Apart from
asyncinfer.surfaces.privategpt so that the streaming function, which finds a message's task, does not build that
surface (asyncinfer.handlers.stream)."""

from __future__ import annotations

import re
from collections.abc import Callable

from asyncinfer.domain import ids
from asyncinfer.domain.errors import TaskNotFound

CUSTOM_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def task_id_of(public: str, named: Callable[[str], str | None]) -> str:
    """A client-chosen message_id first (`named` finds the task it names), then any spelling of a task id."""
    if CUSTOM_ID.match(public) and not ids.spells_a_task_id(public):
        task_id = named(public)
        if task_id is not None:
            return task_id
    return ids.parse_any(public)


def not_found() -> TaskNotFound:
    return TaskNotFound("No message with that id")
