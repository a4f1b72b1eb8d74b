"""The NetMind generation surface (reference 003): POST/GET /v1/generation, GET/DELETE /v1/generation/{id};
32-hex ids, `YYYY-MM-DD HH:MM:SS` times, soft delete shown as `is_deleted`/`deleted_at`, outputs as
`result.data[]` with a URL minted on every read."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from functools import cache
from typing import Annotated, Any, Literal

from pydantic import Field, WithJsonSchema

from asyncinfer.domain import ids
from asyncinfer.domain.generation import AudioConfig, GenerationRequest, ImageConfig
from asyncinfer.domain.model import LOWERCASE_STATUS, MEDIA_KINDS, Task, TaskStatus
from asyncinfer.surfaces.answers import Url, answer, later, shared
from asyncinfer.surfaces.contract import (
    CancelAfter,
    Id,
    IdempotencyKey,
    Limit,
    NextToken,
    Prefer,
    StartTimeout,
    Tasks,
    body,
    present,
    read_response,
    route,
)
from asyncinfer.surfaces.edge import submission, submit, tenant_of, waited
from asyncinfer.surfaces.routing import Router
from asyncinfer.tasks.reads import TaskPage, TaskRead

STATUS = LOWERCASE_STATUS
DELETED = {"message": "Generation deleted"}


def stamp(ms: int | None) -> str | None:
    return None if ms is None else datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M:%S")


def generation(task: Task, url_for: Callable[[str], str]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    if task.status == TaskStatus.COMPLETED and task.deleted_at is None:
        result = {
            "data": [
                {"url": url_for(o.key), "file_id": o.file_id, "file_name": o.file_name, "file_type": o.file_type}
                for o in task.outputs
            ]
        }
    out: dict[str, Any] = {
        "id": task.id,
        "user_id": task.tenant,
        "status": STATUS[task.status],
        "created_at": stamp(task.created_at),
        "updated_at": stamp(task.updated_at),
        "deleted_at": stamp(task.deleted_at),
        "is_deleted": task.deleted_at is not None,
        "result": result,
    }
    if task.error is not None:
        out["error"] = task.error.model_dump()
    return out


def read(view: TaskRead) -> dict[str, Any]:
    return {**generation(view.task, view.url_for), **view.timing(stamp)}


def listing(page: TaskPage, url_for: Callable[[str], str]) -> dict[str, Any]:
    out: dict[str, Any] = {"generation_list": [generation(task, url_for) for task in page.tasks]}
    if page.next_cursor:
        out["next_token"] = page.next_cursor
    return out


Stamp = Annotated[str, WithJsonSchema({"type": "string", "examples": ["2025-09-18 09:14:20"]})]


@cache
def answers() -> dict[str, Any]:
    """This surface's answer models (asyncinfer.surfaces.answers: made when the document is)."""
    Output = answer(
        "GenerationOutput", url=Url, file_id=str, file_name=str, file_type=Literal["image", "audio", "video"]
    )
    Generation = answer(
        "Generation",
        id=(str, Field(pattern="^[0-9a-f]{32}$")),
        user_id=str,
        status=Literal["pending", "processing", "completed", "failed", "cancelled"],
        created_at=Stamp,
        updated_at=Stamp,
        deleted_at=Stamp | None,
        is_deleted=bool,
        result=answer("GenerationResult", data=(list[Output] | None, None)),  # data: once completed, until deleted
        error=(shared().ErrorBody | None, None),
    )
    Listing = answer("GenerationList", generation_list=list[Generation], next_token=(str | None, None))
    Read = answer("GenerationRead", shared().Timing[Stamp], Generation)
    Deleted = answer("GenerationDeleted", message=(str, Field(examples=["Generation deleted"])))
    return {"Generation": Generation, "Listing": Listing, "Read": Read, "Deleted": Deleted}


Generation, Listing, Read, Deleted = later(answers, "Generation", "Listing", "Read", "Deleted")
router = Router()
TAG = "NetMind"


# The submit's request example (Swagger UI's "Try it out" sends it; built from the schema it would be refused): the
# provider's reference request, with a model the packaged registry serves quickly.
EXAMPLE = {
    "model": "Qwen/Qwen-Image",
    "config": {"prompt": "Generate a cup of coffee", "image_size": "square", "num_images": 1, "output_format": "png"},
}


@route(
    router,
    "POST",
    "/v1/generation",
    "Create a generation (image, audio or video)",
    TAG,
    ok=Generation,
    description="`config` is an ImageConfig or an AudioConfig (see the schemas), by the model's kind.",
    takes_body=True,
    example=EXAMPLE,
    models=(ImageConfig, AudioConfig),
    waits=Read,
)
def create(
    svc: Tasks,
    request: body(GenerationRequest),
    idempotency_key: IdempotencyKey = None,
    start_timeout: StartTimeout = None,
    cancel_after: CancelAfter = None,
    prefer: Prefer = None,
):  # a Response when it waited: Preference-Applied is a header
    how = submission("netmind", idempotency_key, start_timeout, cancel_after)
    task = submit(router, svc.submit_generation, request, how)
    return waited(svc, task, prefer, lambda now: generation(now, svc.download_url), read)


@route(router, "GET", "/v1/generation", "List generations", TAG, ok=Listing)
def list_generations(svc: Tasks, limit: Limit = None, next_token: NextToken = None) -> dict:
    limit_, after = ids.token_page(present(limit=limit, next_token=next_token))
    page = svc.list(tenant_of(router), limit=limit_, after=after, status=None, kinds=MEDIA_KINDS)
    return listing(page, svc.download_url)


@route(router, "GET", "/v1/generation/{id}", "Get a generation, with fresh download URLs", TAG, ok=Read, poll_hint=True)
def get_generation(id: Id, svc: Tasks):  # a Response: the poll hint is a header
    return read_response(svc.read(tenant_of(router), ids.parse_any(id), MEDIA_KINDS, deleted=True), read)


@route(router, "DELETE", "/v1/generation/{id}", "Delete a generation (soft; its files are deleted)", TAG, ok=Deleted)
def delete_generation(id: Id, svc: Tasks) -> dict:
    task = svc.get(tenant_of(router), ids.parse_any(id), MEDIA_KINDS)
    svc.delete(task.tenant, task.id)
    return DELETED
