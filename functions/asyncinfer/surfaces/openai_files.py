"""Files, as OpenAI's Files API: POST/GET /v1/files, GET/DELETE /v1/files/{id}, GET /v1/files/{id}/content.
Uploads (purpose `batch`) are batch inputs (`input_file_id`); batches write their output and error files."""

from __future__ import annotations

from functools import cache
from typing import Annotated, Any, Literal

from pydantic import Field

from asyncinfer.domain.files import parse_upload
from asyncinfer.domain.requests import parse_limit
from asyncinfer.surfaces.answers import answer, later, openai_list_of
from asyncinfer.surfaces.contract import Id, Limit, openai_list, present, raw_body, route
from asyncinfer.surfaces.edge import tenant_of
from asyncinfer.surfaces.openai_batches import BatchesService
from asyncinfer.surfaces.routing import Query, Response, Router
from asyncinfer.tasks.files import FileInfo

router = Router()
TAG = "Files"
After = Annotated[str | None, Query(description="A file id from a previous page: the list goes on after it")]
Purpose = Annotated[str | None, Query(json_schema_extra={"enum": ["batch"]})]


@cache
def answers() -> dict[str, Any]:
    """This surface's answer models (asyncinfer.surfaces.answers: made when the document is)."""
    File = answer(
        "File",
        id=(str, Field(examples=["file-0190a5d27b3c7d4e8f001a2b3c4d5e6f"])),
        object=Literal["file"],
        bytes=int,
        created_at=int,
        expires_at=int,
        filename=str,
        purpose=Literal["batch", "batch_output"],
        status=Literal["processed"],
        status_details=(None, Field(description="Always null (deprecated in OpenAI's File object)")),
    )
    Listing = openai_list_of("FileList", File)
    Deleted = answer("FileDeleted", id=str, object=Literal["file"], deleted=bool)
    return {"File": File, "Listing": Listing, "Deleted": Deleted}


File, Listing, Deleted = later(answers, "File", "Listing", "Deleted")


def render(info: FileInfo, lifetime_ms: int) -> dict[str, Any]:
    return {
        "id": info.id,
        "object": "file",
        "bytes": info.bytes,
        "created_at": info.created_at // 1000,
        "expires_at": (info.created_at + lifetime_ms) // 1000,
        "filename": info.filename,
        "purpose": info.purpose,
        "status": "processed",
        "status_details": None,
    }


@route(
    router,
    "POST",
    "/v1/files",
    "Upload a file (multipart/form-data: `file`, and `purpose` = batch)",
    TAG,
    ok=File,
    description="A batch's input (JSONL of `{custom_id, method, url, body}`), at most 4 MiB through this route; "
    "larger inputs go through POST /v1/batches/uploads.",
)
def create(svc: BatchesService) -> dict:
    files = svc.files
    upload = parse_upload(router.current_event.headers.get("content-type", ""), raw_body(router))
    return render(files.create(tenant_of(router), upload), files.lifetime_ms)


@route(router, "GET", "/v1/files", "List your uploaded files, newest first", TAG, ok=Listing)
def list_files(svc: BatchesService, limit: Limit = None, after: After = None, purpose: Purpose = None) -> dict:
    files = svc.files
    found, more = files.list(
        tenant_of(router), limit=parse_limit(present(limit=limit)), after=after or None, purpose=purpose
    )
    return openai_list([render(info, files.lifetime_ms) for info in found], more)


@route(router, "GET", "/v1/files/{id}", "Get a file's details", TAG, ok=File)
def get_file(id: Id, svc: BatchesService) -> dict:
    return render(svc.files.get(tenant_of(router), id), svc.files.lifetime_ms)


@route(router, "DELETE", "/v1/files/{id}", "Delete an uploaded file or a batch's output file", TAG, ok=Deleted)
def delete_file(id: Id, svc: BatchesService) -> dict:
    svc.files.delete(tenant_of(router), id)
    return {"id": id, "object": "file", "deleted": True}


@route(
    router,
    "GET",
    "/v1/files/{id}/content",
    "A file's content: a redirect (302) to a presigned URL of its bytes",
    TAG,
    description="Clients follow it (OpenAI's SDKs do; with curl, -L).",
)
def content(id: Id, svc: BatchesService):  # a Response: a redirect
    return Response(status_code=302, headers={"Location": svc.files.content_url(tenant_of(router), id)}, body="")
