"""Make moto's DynamoDB honour TransactWriteItems' ClientRequestToken, as DynamoDB does.

botocore sends a ClientRequestToken with every TransactWriteItems and reuses it when it retries
after a lost answer. DynamoDB then answers the retry with success without applying it again
(for ten minutes; the same token with other items is IdempotentParameterMismatchException).
moto ignores the token, so locally a retried transaction could answer 409 for its own write or
404 for its own delete. This module patches moto in development only: `make run` and the tests
install it; the product code relies on the real behaviour and never imports it.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from typing import Any

TOKEN_LIFETIME_SECONDS = 600  # DynamoDB's idempotency window for ClientRequestToken
_applied: dict[str, tuple[str, float]] = {}
_lock = threading.Lock()


def _fingerprint(body: dict[str, Any]) -> str:
    items = json.dumps(body.get("TransactItems"), sort_keys=True, default=repr)  # binary values too
    return hashlib.sha256(items.encode()).hexdigest()


def install() -> None:
    """Patch moto's DynamoDB handler once per process (idempotent)."""
    from moto.core.responses import ActionResult
    from moto.dynamodb.exceptions import DynamodbException
    from moto.dynamodb.responses import DynamoHandler

    original = DynamoHandler.transact_write_items
    if getattr(original, "honours_client_request_token", False):
        return

    class IdempotentParameterMismatch(DynamodbException):
        def __init__(self) -> None:
            super().__init__(
                "com.amazonaws.dynamodb.v20120810#IdempotentParameterMismatchException",
                "The ClientRequestToken was used with different transaction items",
            )

    def transact_write_items(self: DynamoHandler) -> ActionResult:
        token = self.body.get("ClientRequestToken")
        if not token:
            return original(self)
        fingerprint, now = _fingerprint(self.body), time.monotonic()
        with _lock:  # one transaction per token at a time, as DynamoDB serialises them
            for expired in [key for key, (_, at) in _applied.items() if now - at > TOKEN_LIFETIME_SECONDS]:
                del _applied[expired]
            seen = _applied.get(token)
            if seen is not None:
                if seen[0] != fingerprint:
                    raise IdempotentParameterMismatch()
                return ActionResult({"ConsumedCapacity": [], "ItemCollectionMetrics": {}})
            result = original(self)
            _applied[token] = (fingerprint, now)
            return result

    transact_write_items.honours_client_request_token = True  # type: ignore[attr-defined]
    DynamoHandler.transact_write_items = transact_write_items  # type: ignore[method-assign]
