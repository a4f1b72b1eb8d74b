"""Files, as OpenAI's Files API has them: an upload (`purpose: batch`, a batch's input) or a batch's output
or error file. The ids say where the bytes are, so a file needs no record of its own beside them."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote

from asyncinfer.domain.errors import InvalidRequest, TaskNotFound
from asyncinfer.domain.model import id_time_ms, is_task_id, new_task_id

FILE_PREFIX = "file-"
UPLOAD_PURPOSES = ("batch",)
MAX_FILENAME = 255
# S3 refuses an object whose user-defined metadata, keys and values in UTF-8, is over 2 KB; an upload's name is
# in it. Keys are counted with the x-amz-meta- prefix of the headers they are sent in: never less than S3 counts.
MAX_METADATA_BYTES = 2048
_METADATA_HEADER = "x-amz-meta-"
# Uploads are listed newest first from the store's ascending key order: their ids carry the time inverted.
_LAST_MS = (1 << 48) - 1
_BATCH_FILE = re.compile(r"^file-([0-9a-f]{32})-(output|errors)$")
_UPLOAD = re.compile(r"^file-([0-9a-f]{32})$")


class FilenameTooLong(InvalidRequest):
    code = "filename_too_long"


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
    # Imported here: email's policies (~2.5 ms of cold start) serve this one route.
    from email.parser import BytesParser
    from email.policy import HTTP

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


def metadata_bytes(metadata: dict[str, str]) -> int:
    """The size of user-defined object metadata as S3 bounds it (at most: keys with their header prefix)."""
    return sum(len((_METADATA_HEADER + key).encode()) + len(value.encode()) for key, value in metadata.items())


def upload_metadata(upload: Upload, created_ms: int) -> dict[str, str]:
    """The object metadata an upload is stored with; FilenameTooLong when S3 would refuse it for its size."""
    metadata = {"filename": quote(upload.filename, safe=""), "purpose": upload.purpose, "created": str(created_ms)}
    size = metadata_bytes(metadata)
    if size > MAX_METADATA_BYTES:
        raise FilenameTooLong(
            f"The file's name is too long once stored: {size} bytes of object metadata (it is kept percent-encoded, "
            f"an emoji takes 12 bytes), over S3's limit of {MAX_METADATA_BYTES} bytes; use a shorter name"
        )
    return metadata
