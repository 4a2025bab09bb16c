"""Map DynamoDB and S3 failures to domain errors: anything transient to 503, failed conditions to
the caller's.

botocore has already retried by the time an error reaches here. Whatever is still failing for
a transient reason (throttling, a 5xx, a timeout, a reset or dropped connection, an answer
that never came) is reported as 503 with Retry-After; only a bug (a malformed request, a
missing table) remains an internal error.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from pynamodb.exceptions import PynamoDBException

from chalicelib.errors import Conflict, NotFound, ServiceError, Unavailable

TRANSIENT_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "InternalServerError",
        "InternalFailure",
        "ServiceUnavailable",
        "TransactionInProgressException",
        "TransactionConflictException",
        "SlowDown",  # S3's throttling
        "InternalError",  # S3's 500
        "RequestTimeout",
    }
)
CONDITION_FAILED = "ConditionalCheckFailedException"


def error_code(error: BaseException | None) -> str | None:
    """The AWS error code, if the service answered at all (a dropped connection has none)."""
    response: Any = getattr(error, "response", None)
    if not isinstance(response, dict):
        return None
    code = (response.get("Error") or {}).get("Code")
    return code if isinstance(code, str) else None


def is_transient(error: BaseException | None) -> bool:
    if isinstance(error, PynamoDBException):
        return is_transient(error.cause) or error_code(error) in TRANSIENT_CODES
    return isinstance(error, BotoCoreError) or error_code(error) in TRANSIENT_CODES


def new_write_token() -> str:
    """Stored with a write, so that the request which made it can recognise it afterwards."""
    return secrets.token_hex(16)


@contextmanager
def own_write(applied: Callable[[], bool]) -> Iterator[None]:
    """A conditional write whose answer was lost is retried by botocore, and the retry then fails
    its own condition (409, 404), or the last attempt never answers (503). If `applied()` finds
    this request's write in place, the write succeeded: the error is swallowed. If the check
    cannot be made, the outcome is unknown, and that is what the client hears (503)."""
    try:
        yield
    except (Conflict, NotFound, Unavailable):
        if applied():
            return
        raise


@contextmanager
def aws_call(
    on_condition_failed: Callable[[], ServiceError] | None = None,
) -> Iterator[None]:
    try:
        yield
    except (PynamoDBException, BotoCoreError, ClientError) as error:
        cause = error.cause if isinstance(error, PynamoDBException) else error
        if on_condition_failed and error_code(cause) == CONDITION_FAILED:
            raise on_condition_failed() from None
        if is_transient(error):
            raise Unavailable() from None
        raise
