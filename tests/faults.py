"""Fault injection for DynamoDB: moto has no fault switch, so a botocore `before-send` hook
answers chosen operations in its place: a throttling or internal error, a reset connection, or
a write that is applied and whose answer is then lost."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from botocore.awsrequest import AWSResponse
from botocore.exceptions import ConnectionClosedError

ERRORS = {
    "throttle": (400, "ProvisionedThroughputExceededException", "Rate of requests exceeds capacity"),
    "internal": (500, "InternalServerError", "Internal server error"),
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
    operation = request.headers.get("X-Amz-Target", b"")
    operation = operation.decode() if isinstance(operation, bytes) else operation
    return str(operation).rsplit(".", 1)[-1]


def answer_with(kind: str, request: Any, apply: Callable[[], Any]) -> Any:
    """What the database's side of the wire does for a fault of `kind`.

    `lost`: the write is applied, then the connection drops before the answer arrives.
    `reset`: the connection drops before the request arrives. Others: an error answer."""
    if kind == "lost":
        apply()
    if kind in ("lost", "reset"):
        raise ConnectionClosedError(endpoint_url=request.url)
    status, code, message = ERRORS[kind]
    body = json.dumps({"__type": f"com.amazonaws.dynamodb.v20120810#{code}", "message": message})
    return AWSResponse(request.url, status, {"x-amzn-RequestId": "fault"}, _Body(body.encode()))
