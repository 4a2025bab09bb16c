"""Idempotency keys: claimed with a conditional put, completed with the response, released (its
lease ended) after a failure worth retrying. Every write is conditional on this request's claim token, so a retried
write recognises its own earlier attempt."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from pynamodb.exceptions import PutError, UpdateError

from chalicelib.errors import Unavailable
from chalicelib.store.failures import CONDITION_FAILED, aws_call, error_code
from chalicelib.store.models import IdempotencyItem


@dataclass(frozen=True)
class Record:
    fingerprint: str
    claim_token: str
    lease_until: float
    status: int | None
    body: str | None
    location: str | None


def _record(item: IdempotencyItem) -> Record:
    return Record(
        item.fingerprint,
        item.claim_token,
        float(item.lease_until),
        None if item.status is None else int(item.status),
        item.body,
        item.location,
    )


def get(key: str) -> Record | None:
    with aws_call():
        try:
            return _record(IdempotencyItem.get(key, consistent_read=True))
        except IdempotencyItem.DoesNotExist:
            return None


CLAIM_ATTEMPTS = 3  # the holder may vanish between a failed claim and the read that follows


def claim(
    key: str, fingerprint: str, claim_token: str, now: float, lease: float, keep: float
) -> Record | None:
    """Take the key for this request: None when this request now holds it, else the record of
    the request that does.

    A key is free when it was never used, when its record outlived `keep` (DynamoDB's TTL
    deletes lazily), or when its claim's lease ran out without a response and this is the same
    request again (the same body: a released key with another body is still a 422)."""
    item = IdempotencyItem(
        key,
        fingerprint=fingerprint,
        claim_token=claim_token,
        lease_until=now + lease,
        expires_at=datetime.fromtimestamp(now + keep, UTC),
    )
    free = (
        IdempotencyItem.key.does_not_exist()
        | (IdempotencyItem.expires_at < datetime.fromtimestamp(now, UTC))
        | (
            IdempotencyItem.status.does_not_exist()
            & (IdempotencyItem.lease_until < now)
            & (IdempotencyItem.fingerprint == fingerprint)  # another body with this key: 422
        )
    )
    for _ in range(CLAIM_ATTEMPTS):
        with aws_call():
            try:
                item.save(condition=free)
                return None
            except PutError as error:
                if error_code(error.cause) != CONDITION_FAILED:
                    raise
        held = get(key)
        if held is not None:
            return None if held.claim_token == claim_token else held
    raise Unavailable()


def complete(key: str, claim_token: str, status: int, body: str, location: str | None) -> None:
    with aws_call():
        try:
            IdempotencyItem(key).update(
                actions=[
                    IdempotencyItem.status.set(status),
                    IdempotencyItem.body.set(body),
                    IdempotencyItem.location.set(location) if location else IdempotencyItem.location.remove(),
                ],
                condition=IdempotencyItem.claim_token == claim_token,
            )
        except UpdateError as error:
            if error_code(error.cause) != CONDITION_FAILED:
                raise  # a lost claim (its lease ran out and another request took it) keeps theirs


def release(key: str, claim_token: str) -> None:
    """End this request's claim without a response: the next repeat may claim the key."""
    with aws_call():
        try:
            IdempotencyItem(key).update(
                actions=[IdempotencyItem.lease_until.set(0)],
                condition=(IdempotencyItem.claim_token == claim_token)
                & IdempotencyItem.status.does_not_exist(),
            )
        except UpdateError as error:
            if error_code(error.cause) != CONDITION_FAILED:
                raise
