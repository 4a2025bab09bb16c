"""The denylist of logged-out tokens, keyed by `jti`; DynamoDB's TTL removes expired entries.

The authorizer reads it together with the account (chalicelib.store.sessions)."""

from __future__ import annotations

from datetime import UTC, datetime

from chalicelib.store.failures import aws_call
from chalicelib.store.models import RevokedTokenItem


def revoke(jti: str, expires_at: int) -> None:
    with aws_call():
        RevokedTokenItem(jti, expires_at=datetime.fromtimestamp(expires_at, UTC)).save()
