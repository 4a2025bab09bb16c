"""Fault injection for DynamoDB: moto has no fault switch, so a botocore `before-send` hook
answers chosen operations with a throttling or internal error before moto sees them."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from botocore.awsrequest import AWSResponse

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

    def __call__(self, request: Any, **kwargs: Any) -> AWSResponse | None:
        operation = request.headers.get("X-Amz-Target", b"")
        operation = operation.decode() if isinstance(operation, bytes) else operation
        name = operation.rsplit(".", 1)[-1]
        if name != self.operation:
            return None
        attempt = self.seen[name]
        self.seen[name] += 1
        first = self.occurrence - 1
        if first <= attempt < first + self.times:
            self.injected += 1
            status, code, message = ERRORS[self.kind]
            body = json.dumps({"__type": f"com.amazonaws.dynamodb.v20120810#{code}", "message": message})
            return AWSResponse(request.url, status, {"x-amzn-RequestId": "fault"}, _Body(body.encode()))
        return None
