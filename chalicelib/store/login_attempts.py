"""Failed logins per username, for throttling; written with optimistic versions so that
parallel attempts cannot both take the last free slot."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime

from pynamodb.exceptions import PutError

from chalicelib.store.failures import CONDITION_FAILED, aws_call, error_code, new_write_token
from chalicelib.store.models import LoginAttemptItem


def _key(username: str) -> str:
    return hashlib.sha256(username.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True)
class Attempts:
    failures: list[float] = field(default_factory=list)
    version: int = 0


def read(username: str) -> Attempts:
    with aws_call():
        try:
            item = LoginAttemptItem.get(_key(username), consistent_read=True)
        except LoginAttemptItem.DoesNotExist:
            return Attempts()
    return Attempts([float(failure) for failure in item.failures], int(item.version))


def replace(username: str, seen: Attempts, failures: list[float], expires_at: float) -> bool:
    """Write `failures` if nobody wrote since `seen` was read; False if someone did."""
    token = new_write_token()
    item = LoginAttemptItem(
        _key(username),
        failures=failures,
        version=seen.version + 1,
        write_token=token,
        expires_at=datetime.fromtimestamp(expires_at, UTC),
    )
    condition = (
        LoginAttemptItem.key.does_not_exist()
        if seen.version == 0
        else LoginAttemptItem.version == seen.version
    )
    with aws_call():
        try:
            item.save(condition=condition)
        except PutError as error:
            if error_code(error.cause) == CONDITION_FAILED:
                return _holds(username, token)  # a retry failing on this attempt's own write
            raise
    return True


def _holds(username: str, write_token: str) -> bool:
    with aws_call():
        try:
            return LoginAttemptItem.get(_key(username), consistent_read=True).write_token == write_token
        except LoginAttemptItem.DoesNotExist:
            return False


def clear(username: str) -> None:
    with aws_call():
        LoginAttemptItem(_key(username)).delete()
