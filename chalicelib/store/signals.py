"""The signal repository: S3 objects holding packed signals, and the uploads clients send.

A signal object is written under the tag `state=pending`, which a lifecycle rule expires after
a day, and committed (the tag removed) once the ECG's item in DynamoDB refers to it. So a write
that fails part-way leaves nothing that outlives the rule, and a reader only ever follows an
item to an object that was fully written. Keys carry a token of the write, so a second write of
the same id (a 409, or a retry) never touches the first one's object.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any, BinaryIO

from chalicelib.errors import NotFound
from chalicelib.settings import Settings, get_settings
from chalicelib.store.failures import aws_call

# The bucket's layout and the tag its lifecycle rule matches; the template (devtools/deployment.py)
# and `make run` build their rules and notifications from these.
SIGNALS_PREFIX = "signals/"
UPLOADS_PREFIX = "uploads/"
PENDING = ("state", "pending")
PENDING_TAG = "=".join(PENDING)  # as PutObject's Tagging header writes it
PART_BYTES = 8 * 1024 * 1024  # multipart parts (S3's minimum is 5 MiB, except the last)
UPLOAD_CONTENT_TYPE = "application/octet-stream"


@cache
def _client_for(settings: Settings) -> Any:
    import boto3
    from botocore.config import Config

    # Virtual-hosted URLs on AWS (path-style is legacy there); path-style for a local endpoint,
    # whose host cannot carry the bucket's name.
    config = Config(
        signature_version="s3v4",
        s3={"addressing_style": "path" if settings.s3_endpoint else "virtual"},
        retries={"mode": "standard", "max_attempts": settings.db_max_retries},  # retries after the first
    )
    return boto3.client("s3", region_name=settings.region, endpoint_url=settings.s3_endpoint, config=config)


def client() -> Any:
    return _client_for(get_settings())


def _bucket() -> str:
    return get_settings().signals_bucket


def expires_anyway(key: str) -> bool:
    """Uploaded files: a lifecycle rule removes everything under uploads/ after two days."""
    return key.startswith(UPLOADS_PREFIX)


def signal_key(owner: str, ecg_id: str) -> str:
    return f"{SIGNALS_PREFIX}{owner}/{ecg_id}/{secrets.token_hex(8)}"


def upload_key(owner: str, ecg_id: str) -> str:
    return f"{UPLOADS_PREFIX}{owner}/{ecg_id}/{secrets.token_hex(8)}"


def upload_owner_and_id(key: str) -> tuple[str, str] | None:
    """The owner and ECG id of an `upload_key`; None for any other key (neither usernames nor
    ids may contain a slash)."""
    parts = key.split("/")
    return (parts[1], parts[2]) if len(parts) == 4 and f"{parts[0]}/" == UPLOADS_PREFIX else None


def put_pending(key: str, data: bytes) -> None:
    with aws_call():
        client().put_object(Bucket=_bucket(), Key=key, Body=data, Tagging=PENDING_TAG)


def commit(key: str) -> None:
    """The object is referenced now: the lifecycle rule must leave it alone. Idempotent; an
    object already gone was deleted with its ECG meanwhile, and there is nothing to keep."""
    s3 = client()
    with aws_call():
        try:
            s3.delete_object_tagging(Bucket=_bucket(), Key=key)
        except s3.exceptions.NoSuchKey:
            return


def mark_pending(key: str) -> None:
    """Hand an object that could not be deleted to the lifecycle rule (if it is there at all:
    the delete may have happened with only its answer lost)."""
    s3 = client()
    with aws_call():
        try:
            s3.put_object_tagging(
                Bucket=_bucket(), Key=key, Tagging={"TagSet": [{"Key": PENDING[0], "Value": PENDING[1]}]}
            )
        except s3.exceptions.NoSuchKey:
            return


def delete(key: str) -> None:
    """Idempotent: S3 answers a delete of a missing key with success."""
    with aws_call():
        client().delete_object(Bucket=_bucket(), Key=key)


def _get(key: str, **ranged: str) -> bytes:
    """An object's bytes (or a range of them); a missing object is an ECG being deleted: 404."""
    s3 = client()
    with aws_call():
        try:
            response = s3.get_object(Bucket=_bucket(), Key=key, **ranged)
        except s3.exceptions.NoSuchKey:
            raise NotFound("no such ECG", "ecg_not_found") from None
        return bytes(response["Body"].read())


def read(key: str) -> bytes:
    return _get(key)


def read_range(key: str, offset: int, length: int) -> bytes:
    """Bytes [offset, offset + length) of an object: one ranged GET."""
    if length <= 0:
        return b""
    return _get(key, Range=f"bytes={offset}-{offset + length - 1}")


def read_from(key: str, offset: int) -> bytes:
    """Bytes from `offset` to the object's end: one ranged GET."""
    return _get(key, Range=f"bytes={offset}-")


def open_upload(key: str) -> tuple[BinaryIO, int] | None:
    """The uploaded file as a stream and its size; None when there is no such object."""
    s3 = client()
    with aws_call():
        try:
            response = s3.get_object(Bucket=_bucket(), Key=key)
        except s3.exceptions.NoSuchKey:
            return None
    return response["Body"], int(response["ContentLength"])


def upload_origins() -> list[str]:
    """Where browsers send uploads: the origins a page's Content-Security-Policy must allow."""
    settings = get_settings()
    if settings.s3_endpoint:
        return [settings.s3_endpoint.rstrip("/")]
    bucket = settings.signals_bucket
    return [f"https://{bucket}.s3.amazonaws.com", f"https://{bucket}.s3.{settings.region}.amazonaws.com"]


def upload_url(key: str, size_bytes: int) -> tuple[str, dict[str, str], str]:
    """A presigned PUT of exactly `size_bytes` (the length is signed), its headers and expiry."""
    seconds = get_settings().upload_url_seconds
    url = client().generate_presigned_url(
        "put_object",
        Params={
            "Bucket": _bucket(),
            "Key": key,
            "ContentLength": size_bytes,
            "ContentType": UPLOAD_CONTENT_TYPE,
        },
        ExpiresIn=seconds,
    )
    expires_at = datetime.now(UTC) + timedelta(seconds=seconds)
    headers = {"Content-Type": UPLOAD_CONTENT_TYPE, "Content-Length": str(size_bytes)}
    return url, headers, expires_at.isoformat(timespec="seconds").replace("+00:00", "Z")


class PendingObject:
    """A signal object written piece by piece (a multipart upload), tagged pending.

    Memory holds at most one part; an object smaller than one part is a single PUT."""

    def __init__(self, key: str) -> None:
        self.key = key
        self._buffer = bytearray()
        self._upload_id: str | None = None
        self._parts: list[dict[str, Any]] = []

    def write(self, data: bytes) -> None:
        self._buffer += data
        while len(self._buffer) >= PART_BYTES:
            part = bytes(self._buffer[:PART_BYTES])
            del self._buffer[:PART_BYTES]
            self._send_part(part)

    def _send_part(self, data: bytes) -> None:
        s3 = client()
        with aws_call():
            if self._upload_id is None:
                created = s3.create_multipart_upload(Bucket=_bucket(), Key=self.key, Tagging=PENDING_TAG)
                self._upload_id = created["UploadId"]
            number = len(self._parts) + 1
            answer = s3.upload_part(
                Bucket=_bucket(), Key=self.key, UploadId=self._upload_id, PartNumber=number, Body=data
            )
        self._parts.append({"PartNumber": number, "ETag": answer["ETag"]})

    def close(self) -> None:
        """Write what remains; the object exists (still pending) when this returns."""
        if self._upload_id is None:
            put_pending(self.key, bytes(self._buffer))
            return
        if self._buffer:
            self._send_part(bytes(self._buffer))
        with aws_call():
            client().complete_multipart_upload(
                Bucket=_bucket(),
                Key=self.key,
                UploadId=self._upload_id,
                MultipartUpload={"Parts": self._parts},
            )

    def abort(self) -> None:
        """Best effort: the lifecycle rule aborts incomplete uploads anyway."""
        if self._upload_id is not None:
            with aws_call():
                client().abort_multipart_upload(Bucket=_bucket(), Key=self.key, UploadId=self._upload_id)
