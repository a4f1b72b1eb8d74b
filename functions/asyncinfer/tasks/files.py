"""Files: uploads that batches read (`input_file_id`), and the output and error files batches write.

An upload's bytes are the object uploads/<tenant>/<file id>.jsonl, its name and purpose the object's
metadata; a batch's files are batches/<tenant>/<batch id>/{output,errors}.jsonl. The tenant is part of
every key, so a file id of another tenant names nothing here."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote

from asyncinfer.blobs.base import BlobStore, batch_file_key, upload_key
from asyncinfer.domain.errors import InvalidRequest, RequestTooLarge
from asyncinfer.domain.files import (
    FILE_PREFIX,
    FileNotFound,
    FileRef,
    Upload,
    new_upload_id,
    parse_file_id,
    upload_created_ms,
    upload_metadata,
)
from asyncinfer.domain.model import now_ms


@dataclass(frozen=True)
class FileInfo:
    id: str
    bytes: int
    created_at: int  # ms
    filename: str
    purpose: str
    key: str


class Files:
    def __init__(self, blobs: BlobStore, *, max_bytes: int, url_seconds: int, retention_days: int) -> None:
        self.blobs = blobs
        # The bucket's lifecycle deletes uploads and batch files a day after the retention period.
        self.lifetime_ms = (retention_days + 1) * 86_400_000
        self.max_bytes = max_bytes
        self.url_seconds = url_seconds

    def create(self, tenant: str, upload: Upload) -> FileInfo:
        if len(upload.content) > self.max_bytes:
            raise RequestTooLarge(
                f"The file is {len(upload.content)} bytes; this route takes at most {self.max_bytes}. "
                "Upload larger batch inputs with POST /v1/batches/uploads"
            )
        now = now_ms()
        meta = upload_metadata(upload, now)
        file_id = new_upload_id(now)
        key = upload_key(tenant, file_id)
        self.blobs.put(key, upload.content, "application/x-ndjson", meta)
        return FileInfo(file_id, len(upload.content), now, upload.filename, upload.purpose, key)

    def get(self, tenant: str, file_id: str) -> FileInfo:
        ref = parse_file_id(file_id)
        key = self.key_of(tenant, ref)
        found = self.blobs.head(key)
        if found is None:
            raise FileNotFound()
        meta = found.metadata
        if ref.upload:
            created = int(meta.get("created") or upload_created_ms(file_id))
            return FileInfo(
                file_id, found.size, created, unquote(meta.get("filename", "")), meta.get("purpose", "batch"), key
            )
        name = f"batch_{ref.batch_id}_{ref.which}.jsonl"
        return FileInfo(file_id, found.size, found.modified_ms, name, "batch_output", key)

    @staticmethod
    def key_of(tenant: str, ref: FileRef) -> str:
        if ref.upload:
            return upload_key(tenant, ref.upload)
        return batch_file_key(tenant, ref.batch_id or "", ref.which or "")

    def input_key(self, tenant: str, file_id: str) -> str:
        """The key of an upload a batch reads; a 400 (not a 404) when there is none, as the batch is the request."""
        try:
            ref = parse_file_id(file_id)
            if not ref.upload:
                raise FileNotFound()
            return self.get(tenant, file_id).key
        except FileNotFound:
            raise InvalidRequest(f"input_file_id {file_id!r} is not a file of yours (POST /v1/files)") from None

    def list(self, tenant: str, *, limit: int, after: str | None, purpose: str | None) -> tuple[list[FileInfo], bool]:
        """Uploads, newest first (their keys sort so)."""
        if not 1 <= limit <= 10_000:
            raise InvalidRequest("limit must be between 1 and 10000")
        start = None
        if after:
            try:
                ref = parse_file_id(after)
            except FileNotFound:
                raise InvalidRequest("after is not a file id returned by a previous list") from None
            start = self.key_of(tenant, ref)
        prefix = upload_key(tenant, FILE_PREFIX).removesuffix(".jsonl")
        keys, more = self.blobs.keys(prefix, after=start, limit=limit)
        found = []
        for key in keys:
            file_id = key.rsplit("/", 1)[-1].removesuffix(".jsonl")
            try:
                info = self.get(tenant, file_id)
            except FileNotFound:  # deleted meanwhile, or not one of ours
                continue
            if purpose is None or info.purpose == purpose:
                found.append(info)
        return found, more

    def delete(self, tenant: str, file_id: str) -> FileInfo:
        info = self.get(tenant, file_id)
        self.blobs.delete([info.key])
        return info

    def content_url(self, tenant: str, file_id: str) -> str:
        return self.blobs.presigned_url(self.get(tenant, file_id).key, self.url_seconds)
