"""A test-only surface, written as a new provider's surface would be (docs/architecture.md, "Adding a surface"):
one module with its router, its request and answer models and example, and its renderer of a task read. POST /v1/echo
submits a chat task, GET /v1/echo/{id} reads it."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from asyncinfer.domain import ids
from asyncinfer.domain.model import CHAT_KINDS, Task
from asyncinfer.surfaces.answers import answer
from asyncinfer.surfaces.contract import Id, IdempotencyKey, Tasks, body, read_response, route
from asyncinfer.surfaces.edge import submission, submit, tenant_of
from asyncinfer.surfaces.routing import Router
from asyncinfer.tasks.reads import TaskRead

router = Router()
TAG = "Echo"
EXAMPLE = {"model": "demo-chat", "text": "Hello"}
EchoAnswer = answer("EchoAnswer", echo_id=str, state=str)


class EchoRequest(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")

    model: str
    text: str = Field(min_length=1)


def chat_of(request: dict[str, Any]) -> dict[str, Any]:
    """The chat completion an echo asks for (the task service validates it, as every surface's)."""
    echo = EchoRequest.model_validate(request)
    return {"model": echo.model, "messages": [{"role": "user", "content": echo.text}]}


def answer(task: Task) -> dict[str, Any]:
    return {"echo_id": ids.as_uuid(task.id), "state": task.status.value.lower()}


def read(view: TaskRead) -> dict[str, Any]:
    return {**answer(view.task), "reply": view.result, **view.timing(str)}


@route(router, "POST", "/v1/echo", "Echo a text", TAG, ok=EchoAnswer, takes_body=True, example=EXAMPLE)
def submit_echo(svc: Tasks, request: body(EchoRequest), idempotency_key: IdempotencyKey = None) -> dict:
    return answer(submit(router, svc.submit_chat, chat_of(request), submission("echo", idempotency_key)))


@route(router, "GET", "/v1/echo/{id}", "Read an echo", TAG, ok=EchoAnswer, poll_hint=True)
def get_echo(id: Id, svc: Tasks):  # a Response: the poll hint is a header
    return read_response(svc.read(tenant_of(router), ids.parse_any(id), CHAT_KINDS), read)
