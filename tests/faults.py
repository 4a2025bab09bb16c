"""Fault injection for DynamoDB and S3: moto has no fault switch, so a botocore `before-send`
hook answers chosen operations in its place: a throttling or internal error, a reset
connection, or a write that is applied and whose answer is then lost."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

from botocore.awsrequest import AWSResponse
from botocore.exceptions import ConnectionClosedError

ERRORS = {
    "throttle": (400, "ProvisionedThroughputExceededException", "Rate of requests exceeds capacity"),
    "internal": (500, "InternalServerError", "Internal server error"),
}
S3_ERRORS = {
    "throttle": (503, "SlowDown", "Please reduce your request rate."),
    "internal": (500, "InternalError", "We encountered an internal error. Please try again."),
}


class _Body:
    def __init__(self, data: bytes) -> None:
        self._data = data

    def stream(self, **kwargs: Any) -> Any:
        yield self._data

    def read(self, *args: Any) -> bytes:
        return self._data


@dataclass
class FaultPlan:
    """Fail the `occurrence`-th call of `operation` (counting from 1) `times` times in a row."""

    operation: str = ""
    occurrence: int = 1
    times: int = 0
    kind: str = "throttle"
    seen: Counter = field(default_factory=Counter)
    injected: int = 0

    def __call__(self, request: Any) -> str | None:
        """The kind of fault for this request, if it is one to fail."""
        name = operation_of(request)
        if name != self.operation:
            return None
        attempt = self.seen[name]
        self.seen[name] += 1
        first = self.occurrence - 1
        if first <= attempt < first + self.times:
            self.injected += 1
            return self.kind
        return None


def operation_of(request: Any) -> str:
    """DynamoDB names the operation in a header; S3 in the method and query (the API's name)."""
    operation = request.headers.get("X-Amz-Target", b"")
    operation = operation.decode() if isinstance(operation, bytes) else operation
    if operation:
        return str(operation).rsplit(".", 1)[-1]
    return s3_operation(request.method, urlsplit(request.url).query)


def s3_operation(method: str, query: str) -> str:
    fields = parse_qs(query, keep_blank_values=True)
    if "tagging" in fields:
        return {"PUT": "PutObjectTagging", "DELETE": "DeleteObjectTagging"}.get(method, "GetObjectTagging")
    if "uploads" in fields:
        return "CreateMultipartUpload"
    if "uploadId" in fields:
        if "partNumber" in fields:
            return "UploadPart"
        return {"POST": "CompleteMultipartUpload", "DELETE": "AbortMultipartUpload"}.get(method, "ListParts")
    return {"PUT": "PutObject", "GET": "GetObject", "DELETE": "DeleteObject", "HEAD": "HeadObject"}.get(
        method, method
    )


def answer_with(kind: str, request: Any, apply: Callable[[], Any]) -> Any:
    """What the database's side of the wire does for a fault of `kind`.

    `lost`: the write is applied, then the connection drops before the answer arrives.
    `reset`: the connection drops before the request arrives. Others: an error answer."""
    if kind == "lost":
        apply()
    if kind in ("lost", "reset"):
        raise ConnectionClosedError(endpoint_url=request.url)
    if not request.headers.get("X-Amz-Target"):
        status, code, message = S3_ERRORS[kind]
        xml = f"<Error><Code>{code}</Code><Message>{message}</Message></Error>"
        return AWSResponse(request.url, status, {"x-amz-request-id": "fault"}, _Body(xml.encode()))
    status, code, message = ERRORS[kind]
    body = json.dumps({"__type": f"com.amazonaws.dynamodb.v20120810#{code}", "message": message})
    return AWSResponse(request.url, status, {"x-amzn-RequestId": "fault"}, _Body(body.encode()))
