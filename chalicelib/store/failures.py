"""Map DynamoDB failures to domain errors: throttling to 503, failed conditions to the caller's."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from botocore.exceptions import BotoCoreError
from pynamodb.exceptions import PynamoDBException

from chalicelib.errors import ServiceError, Unavailable

TRANSIENT_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "InternalServerError",
        "ServiceUnavailable",
        "TransactionInProgressException",
    }
)
UNAVAILABLE_MESSAGE = "The database is busy or unavailable; nothing was changed, retry later."


def is_transient(error: PynamoDBException) -> bool:
    return error.cause_response_code in TRANSIENT_CODES or isinstance(error.cause, BotoCoreError)


@contextmanager
def database_call(
    on_condition_failed: Callable[[], ServiceError] | None = None,
) -> Iterator[None]:
    """botocore has already retried; what is still failing is reported as 503 with Retry-After."""
    try:
        yield
    except PynamoDBException as error:
        if is_transient(error):
            raise Unavailable(UNAVAILABLE_MESSAGE) from None
        if on_condition_failed and error.cause_response_code == "ConditionalCheckFailedException":
            raise on_condition_failed() from None
        raise
    except BotoCoreError:
        raise Unavailable(UNAVAILABLE_MESSAGE) from None
