"""S3 implementation of the blob store."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from botocore.exceptions import ClientError

from asyncinfer.blobs.base import BlobInfo

_MISSING = {"NoSuchKey", "404", "NotFound"}
# S3 answers a HEAD of a missing key with 403 to a caller that may not list the bucket there (functions list
# only under some prefixes, if at all): they may read every key they ask for, so 403 means no such key.
_HEAD_MISSING = _MISSING | {"403", "Forbidden"}

# S3's multipart parts are 5 MiB at least (but the last); an object smaller than one part is a plain put.
PART_BYTES = 8 * 1024 * 1024


class S3BlobStore:
    def __init__(self, client: Any, bucket: str) -> None:
        self._s3 = client
        self._bucket = bucket

    def put(self, key: str, body: bytes, content_type: str, metadata: dict[str, str] | None = None) -> None:
        extra = {"Metadata": metadata} if metadata else {}
        self._s3.put_object(Bucket=self._bucket, Key=key, Body=body, ContentType=content_type, **extra)

    def head(self, key: str) -> BlobInfo | None:
        try:
            found = self._s3.head_object(Bucket=self._bucket, Key=key)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in _HEAD_MISSING:
                return None
            raise
        modified = found.get("LastModified")
        return BlobInfo(
            key=key,
            size=int(found["ContentLength"]),
            metadata=dict(found.get("Metadata") or {}),
            modified_ms=int(modified.timestamp() * 1000) if modified else 0,
        )

    def keys(self, prefix: str, *, after: str | None, limit: int) -> tuple[list[str], bool]:
        kwargs: dict[str, Any] = {"Bucket": self._bucket, "Prefix": prefix, "MaxKeys": limit}
        if after:
            kwargs["StartAfter"] = after
        found = self._s3.list_objects_v2(**kwargs)
        return [item["Key"] for item in found.get("Contents", [])], bool(found.get("IsTruncated"))

    def get(self, key: str) -> bytes | None:
        try:
            return self._s3.get_object(Bucket=self._bucket, Key=key)["Body"].read()
        except ClientError as exc:
            if exc.response["Error"]["Code"] in {"NoSuchKey", "404"}:
                return None
            raise

    def lines(self, key: str) -> Iterator[bytes]:
        try:
            body = self._s3.get_object(Bucket=self._bucket, Key=key)["Body"]
        except ClientError as exc:
            if exc.response["Error"]["Code"] in {"NoSuchKey", "404"}:
                return
            raise
        yield from body.iter_lines()

    def put_stream(self, key: str, chunks: Iterable[bytes], content_type: str) -> int:
        buffer, total, upload, parts = bytearray(), 0, None, []
        try:
            for chunk in chunks:
                buffer += chunk
                total += len(chunk)
                if len(buffer) >= PART_BYTES:
                    if upload is None:
                        upload = self._s3.create_multipart_upload(
                            Bucket=self._bucket, Key=key, ContentType=content_type
                        )
                    parts.append(self._part(key, upload["UploadId"], len(parts) + 1, bytes(buffer)))
                    buffer.clear()
            if upload is None:
                self.put(key, bytes(buffer), content_type)
                return total
            if buffer:
                parts.append(self._part(key, upload["UploadId"], len(parts) + 1, bytes(buffer)))
            self._s3.complete_multipart_upload(
                Bucket=self._bucket, Key=key, UploadId=upload["UploadId"], MultipartUpload={"Parts": parts}
            )
            return total
        except BaseException:
            if upload is not None:
                self._s3.abort_multipart_upload(Bucket=self._bucket, Key=key, UploadId=upload["UploadId"])
            raise

    def _part(self, key: str, upload_id: str, number: int, body: bytes) -> dict[str, Any]:
        done = self._s3.upload_part(Bucket=self._bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=body)
        return {"PartNumber": number, "ETag": done["ETag"]}

    def presigned_url(self, key: str, expires_in: int) -> str:
        return self._s3.generate_presigned_url(
            "get_object", Params={"Bucket": self._bucket, "Key": key}, ExpiresIn=expires_in
        )

    def presigned_upload(self, key: str, expires_in: int, content_type: str, max_bytes: int) -> tuple[str, dict]:
        # A POST policy, not a presigned PUT: only a policy can bound the size, and S3 refuses a larger body.
        post = self._s3.generate_presigned_post(
            self._bucket,
            key,
            Fields={"Content-Type": content_type},
            Conditions=[["content-length-range", 1, max_bytes], {"Content-Type": content_type}],
            ExpiresIn=expires_in,
        )
        return post["url"], post["fields"]

    def uri(self, key: str) -> str:
        return f"s3://{self._bucket}/{key}"

    def size(self, key: str) -> int | None:
        found = self.head(key)
        return None if found is None else found.size

    def delete(self, keys: list[str]) -> None:
        for start in range(0, len(keys), 1000):
            batch = [{"Key": key} for key in keys[start : start + 1000]]
            self._s3.delete_objects(Bucket=self._bucket, Delete={"Objects": batch, "Quiet": True})


def object_reader(client: Any):
    """Reads whole objects of any bucket the function may read, up to a size: batch input files."""

    def read(bucket: str, key: str, max_bytes: int) -> bytes:
        try:
            body = client.get_object(Bucket=bucket, Key=key, Range=f"bytes=0-{max_bytes}")["Body"]
        except ClientError as exc:
            if exc.response["Error"]["Code"] in {"NoSuchKey", "404", "NoSuchBucket", "AccessDenied", "403"}:
                raise FileNotFoundError(f"s3://{bucket}/{key}") from exc
            raise
        return body.read()

    return read
