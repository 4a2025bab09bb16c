"""PynamoDB models: one table per kind of item, all on-demand, all named by the stage's settings."""

from __future__ import annotations

from functools import cache
from typing import Any, ClassVar

from pynamodb.attributes import (
    BooleanAttribute,
    ListAttribute,
    MapAttribute,
    NumberAttribute,
    TTLAttribute,
    UnicodeAttribute,
)
from pynamodb.connection import Connection, TableConnection
from pynamodb.models import Model

from chalicelib.settings import Settings, get_settings


class _BaseMeta:
    billing_mode = "PAY_PER_REQUEST"
    table_name: str | None = None  # bound from the settings at first use


class _Table(Model):
    """Binds its Meta (table name, region, host, retries) to the current settings at first use.

    Nothing is read at import: a process may set its environment after importing, and a new
    Settings (after get_settings.cache_clear()) rebinds the model and drops its connection."""

    settings_field: ClassVar[str]  # the Settings field that names the table
    _bound_to: ClassVar[Settings | None] = None

    @classmethod
    def _get_connection(cls) -> TableConnection:
        settings = get_settings()
        if cls._bound_to is not settings:
            meta = cls.Meta
            meta.table_name = getattr(settings, cls.settings_field)
            meta.region = settings.region
            meta.host = settings.dynamodb_host
            meta.max_retry_attempts = settings.db_max_retries
            cls._connection = None
            cls._bound_to = settings
        return super()._get_connection()


class UserItem(_Table):
    """An account. `stamp` changes with every password change and every re-creation."""

    class Meta(_BaseMeta):  # one per model: binding sets its table name
        pass

    settings_field = "users_table"

    username = UnicodeAttribute(hash_key=True)
    role = UnicodeAttribute()
    password_hash = UnicodeAttribute()
    created_at = UnicodeAttribute()
    stamp = UnicodeAttribute()
    deleting = BooleanAttribute(default=False)
    write_token = UnicodeAttribute(null=True)  # of the request that created it


class LeadSummaryAttribute(MapAttribute[str, Any]):
    name = UnicodeAttribute()
    number_of_samples = NumberAttribute()
    insights: MapAttribute[str, Any] = MapAttribute()  # type: ignore[no-untyped-call]
    insight_versions: MapAttribute[str, Any] = MapAttribute(default=dict)  # type: ignore[no-untyped-call]


class EcgItem(_Table):
    """An ECG's metadata, status and insights; it is the commit point of its signal object in S3
    (`signal_key`, whose index starts at `signal_index`) and, until processed, of its upload."""

    class Meta(_BaseMeta):  # one per model: binding sets its table name
        pass

    settings_field = "ecgs_table"

    owner = UnicodeAttribute(hash_key=True)
    ecg_id = UnicodeAttribute(range_key=True)
    date = UnicodeAttribute()
    created_at = UnicodeAttribute()
    sampling_rate_hz = NumberAttribute(null=True)
    status = UnicodeAttribute(default="ready")
    error = UnicodeAttribute(null=True)  # why a `failed` ECG failed
    leads = ListAttribute(of=LeadSummaryAttribute, default=list)
    write_token = UnicodeAttribute(null=True)  # of the request that created it
    signal_key = UnicodeAttribute(null=True)  # set once the signal object is written
    signal_index = NumberAttribute(null=True)
    upload_key = UnicodeAttribute(null=True)  # where an announced upload's file arrives
    upload_format = UnicodeAttribute(null=True)
    size_bytes = NumberAttribute(null=True)


class RevokedTokenItem(_Table):
    """A logged-out token's id, kept until the token would have expired anyway (DynamoDB TTL)."""

    class Meta(_BaseMeta):  # one per model: binding sets its table name
        pass

    settings_field = "revoked_tokens_table"

    jti = UnicodeAttribute(hash_key=True)
    expires_at = TTLAttribute()


class LoginAttemptItem(_Table):
    """Recent failed logins of one username (any string, so the key is its SHA-256)."""

    class Meta(_BaseMeta):  # one per model: binding sets its table name
        pass

    settings_field = "login_attempts_table"

    key = UnicodeAttribute(hash_key=True)
    failures: ListAttribute[Any] = ListAttribute(of=NumberAttribute)  # epoch seconds, the most recent last
    version = NumberAttribute()
    write_token = UnicodeAttribute(null=True)  # of the attempt that wrote this version
    expires_at = TTLAttribute()


class IdempotencyItem(_Table):
    """One Idempotency-Key of one caller: claimed while its request runs, then its response."""

    class Meta(_BaseMeta):  # one per model: binding sets its table name
        pass

    settings_field = "idempotency_keys_table"

    key = UnicodeAttribute(hash_key=True)  # "<caller>\n<Idempotency-Key>"
    fingerprint = UnicodeAttribute()  # of the request: the same key with another body is a 422
    claim_token = UnicodeAttribute()  # of the request executing it
    lease_until = NumberAttribute()  # a claim whose request died can be taken over after this
    status = NumberAttribute(null=True)  # the response, once there is one
    body = UnicodeAttribute(null=True)
    location = UnicodeAttribute(null=True)
    expires_at = TTLAttribute()


ALL_MODELS: tuple[type[_Table], ...] = (
    UserItem,
    EcgItem,
    RevokedTokenItem,
    LoginAttemptItem,
    IdempotencyItem,
)


@cache
def _connection_for(settings: Settings) -> Connection:
    return Connection(
        region=settings.region, host=settings.dynamodb_host, max_retry_attempts=settings.db_max_retries
    )


def transaction_connection() -> Connection:
    """The connection TransactWrite needs; configured like the models' own."""
    return _connection_for(get_settings())
