"""PynamoDB models: one table per kind of item, all on-demand, all named by the stage's settings."""

from __future__ import annotations

from functools import cache

from pynamodb.attributes import (
    BinaryAttribute,
    BooleanAttribute,
    ListAttribute,
    MapAttribute,
    NumberAttribute,
    TTLAttribute,
    UnicodeAttribute,
)
from pynamodb.connection import Connection
from pynamodb.models import Model

from chalicelib.settings import get_settings

_settings = get_settings()


class _BaseMeta:
    region = _settings.region
    host = _settings.dynamodb_host
    billing_mode = "PAY_PER_REQUEST"
    max_retry_attempts = _settings.db_max_retries


class UserItem(Model):
    """An account. `stamp` changes with every password change and every re-creation."""

    class Meta(_BaseMeta):
        table_name = _settings.users_table

    username = UnicodeAttribute(hash_key=True)
    role = UnicodeAttribute()
    password_hash = UnicodeAttribute()
    created_at = UnicodeAttribute()
    stamp = UnicodeAttribute()
    deleting = BooleanAttribute(default=False)


class LeadSummaryAttribute(MapAttribute):
    name = UnicodeAttribute()
    number_of_samples = NumberAttribute()
    insights = MapAttribute()


class EcgItem(Model):
    """An ECG's metadata and insights; it is the commit point of the chunks that hold its signals."""

    class Meta(_BaseMeta):
        table_name = _settings.ecgs_table

    owner = UnicodeAttribute(hash_key=True)
    ecg_id = UnicodeAttribute(range_key=True)
    date = UnicodeAttribute()
    created_at = UnicodeAttribute()
    leads = ListAttribute(of=LeadSummaryAttribute)
    chunk_count = NumberAttribute()


class EcgChunkItem(Model):
    """One slice (at most CHUNK_BYTES) of an ECG's packed signals; key `<ecg_id>#<index>`."""

    class Meta(_BaseMeta):
        table_name = _settings.ecg_chunks_table

    owner = UnicodeAttribute(hash_key=True)
    chunk_key = UnicodeAttribute(range_key=True)
    data = BinaryAttribute(legacy_encoding=False)


class RevokedTokenItem(Model):
    """A logged-out token's id, kept until the token would have expired anyway (DynamoDB TTL)."""

    class Meta(_BaseMeta):
        table_name = _settings.revoked_tokens_table

    jti = UnicodeAttribute(hash_key=True)
    expires_at = TTLAttribute()


ALL_MODELS: tuple[type[Model], ...] = (UserItem, EcgItem, EcgChunkItem, RevokedTokenItem)


@cache
def transaction_connection() -> Connection:
    """The connection TransactWrite needs; configured like the models' own."""
    return Connection(
        region=_settings.region, host=_settings.dynamodb_host, max_retry_attempts=_settings.db_max_retries
    )


def create_tables() -> None:
    """Create any missing table (local runner, tests, the manage CLI)."""
    for model in ALL_MODELS:
        if not model.exists():
            model.create_table(billing_mode="PAY_PER_REQUEST", wait=True)
