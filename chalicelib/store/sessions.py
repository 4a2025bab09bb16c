"""What the authorizer reads for every call: the token's account and whether the token was
logged out, in one BatchGetItem round trip over both tables."""

from __future__ import annotations

from typing import Any

from chalicelib.errors import Unavailable
from chalicelib.settings import get_settings
from chalicelib.store.failures import aws_call
from chalicelib.store.models import UserItem, transaction_connection

MAX_ROUNDS = 3  # DynamoDB may leave keys unprocessed under load; ask again for those


def account_and_revocation(username: str, jti: str) -> tuple[UserItem | None, bool]:
    """The account (None if it does not exist) and whether `jti` is on the denylist."""
    settings = get_settings()
    request: dict[str, Any] = {
        settings.users_table: {"Keys": [{"username": {"S": username}}], "ConsistentRead": True},
        settings.revoked_tokens_table: {
            "Keys": [{"jti": {"S": jti}}],
            "ConsistentRead": True,
            "ProjectionExpression": "jti",
        },
    }
    found: dict[str, list[dict[str, Any]]] = {}
    with aws_call():
        for _ in range(MAX_ROUNDS):
            answer = transaction_connection().dispatch("BatchGetItem", {"RequestItems": request})
            for table, items in answer.get("Responses", {}).items():
                found.setdefault(table, []).extend(items)
            request = answer.get("UnprocessedKeys") or {}
            if not request:
                break
    if request:
        raise Unavailable()
    users = found.get(settings.users_table, [])
    account = UserItem.from_raw_data(users[0]) if users else None
    return account, bool(found.get(settings.revoked_tokens_table))
