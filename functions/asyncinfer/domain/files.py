"""Files, as OpenAI's Files API has them: an upload (`purpose: batch`, a batch's input) or a batch's output
or error file. The ids say where the bytes are, so a file needs no record of its own beside them."""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.parser import BytesParser
from email.policy import HTTP

from asyncinfer.domain.errors import InvalidRequest, TaskNotFound
from asyncinfer.domain.model import id_time_ms, is_task_id, new_task_id

FILE_PREFIX = "file-"
UPLOAD_PURPOSES = ("batch",)
MAX_FILENAME = 255
# Uploads are listed newest first from the store's ascending key order: their ids carry the time inverted.
_LAST_MS = (1 << 48) - 1
_BATCH_FILE = re.compile(r"^file-([0-9a-f]{32})-(output|errors)$")
_UPLOAD = re.compile(r"^file-([0-9a-f]{32})$")


class FileNotFound(TaskNotFound):
    def __init__(self) -> None:
        super().__init__("No file with that id")


@dataclass(frozen=True)
class FileRef:
    """What a file id names: an upload (its inverted id), or a batch's `output` or `errors` file."""

    upload: str | None = None
    batch_id: str | None = None
    which: str | None = None


def new_upload_id(now_ms: int) -> str:
    return FILE_PREFIX + new_task_id(_LAST_MS - now_ms)


def upload_created_ms(file_id: str) -> int:
    return _LAST_MS - id_time_ms(file_id.removeprefix(FILE_PREFIX))


def batch_file_id(batch_id: str, which: str) -> str:
    return f"{FILE_PREFIX}{batch_id}-{which}"


def parse_file_id(public: str) -> FileRef:
    """Anything that is not a file id this API hands out is simply not found."""
    if found := _UPLOAD.match(public):
        if is_task_id(found.group(1)):
            return FileRef(upload=public)
    elif (found := _BATCH_FILE.match(public)) and is_task_id(found.group(1)):
        return FileRef(batch_id=found.group(1), which=found.group(2))
    raise FileNotFound()


@dataclass(frozen=True)
class Upload:
    filename: str
    purpose: str
    content: bytes


def parse_upload(content_type: str, body: bytes) -> Upload:
    """A multipart/form-data body with `purpose` and `file` (its filename in the part's header), as the
    OpenAI SDKs send `files.create`."""
    if not content_type.lower().startswith("multipart/form-data"):
        raise InvalidRequest("Send the file as multipart/form-data with the fields `file` and `purpose`")
    message = BytesParser(policy=HTTP).parsebytes(
        b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + body
    )
    fields: dict[str, tuple[str | None, bytes]] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if isinstance(name, str):
            fields[name] = (part.get_filename(), part.get_payload(decode=True) or b"")
    if "file" not in fields:
        raise InvalidRequest("The multipart body has no `file` part")
    if "purpose" not in fields:
        raise InvalidRequest("The multipart body has no `purpose` field")
    purpose = fields["purpose"][1].decode("utf-8", "replace").strip()
    if purpose not in UPLOAD_PURPOSES:
        raise InvalidRequest(f"purpose {purpose!r} is not served here; use one of: {', '.join(UPLOAD_PURPOSES)}")
    filename, content = fields["file"]
    filename = (filename or "upload.jsonl").strip()
    if not filename or len(filename) > MAX_FILENAME or any(ord(c) < 32 for c in filename):
        raise InvalidRequest(f"The file's name must be 1 to {MAX_FILENAME} printable characters")
    if not content:
        raise InvalidRequest("The file is empty")
    try:
        content.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidRequest("A batch file is JSONL: UTF-8 text, one request per line") from None
    return Upload(filename=filename, purpose=purpose, content=content)
