"""Runtime configuration, read from the stage's environment and nowhere else."""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache


@dataclass(frozen=True)
class Settings:
    """Everything that differs between local, dev and prod."""

    stage: str
    region: str
    dynamodb_host: str | None
    users_table: str
    ecgs_table: str
    revoked_tokens_table: str
    login_attempts_table: str
    idempotency_keys_table: str
    token_ttl_seconds: int
    bcrypt_rounds: int
    jwt_secret: str | None
    jwt_previous_secret: str | None
    jwt_secret_parameter: str | None
    jwt_previous_secret_parameter: str | None
    db_max_retries: int
    login_max_failures: int
    login_lockout_seconds: int
    signals_bucket: str
    s3_endpoint: str | None
    sqs_endpoint: str | None
    upload_url_seconds: int


APP_NAME = "ecg-insights"
# During a rotation the previous signing secret sits beside the current one under this suffix.
PREVIOUS_SECRET_SUFFIX = "-previous"


def default_resource_name(stage: str, kind: str) -> str:
    """Tables and the bucket are named per stage unless the environment names them (as CloudFormation does)."""
    return f"{APP_NAME}-{stage}-{kind}"


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    return default if raw in (None, "") else int(raw)


@cache
def get_settings() -> Settings:
    """Build the settings once per process (Lambda container)."""
    stage = os.environ.get("ECG_STAGE", "local")
    secret_parameter = os.environ.get("ECG_JWT_SECRET_PARAMETER") or None
    return Settings(
        stage=stage,
        region=os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1",
        dynamodb_host=os.environ.get("ECG_DYNAMODB_HOST") or None,
        users_table=os.environ.get("ECG_USERS_TABLE", default_resource_name(stage, "users")),
        ecgs_table=os.environ.get("ECG_ECGS_TABLE", default_resource_name(stage, "ecgs")),
        revoked_tokens_table=os.environ.get(
            "ECG_REVOKED_TOKENS_TABLE", default_resource_name(stage, "revoked-tokens")
        ),
        login_attempts_table=os.environ.get(
            "ECG_LOGIN_ATTEMPTS_TABLE", default_resource_name(stage, "login-attempts")
        ),
        idempotency_keys_table=os.environ.get(
            "ECG_IDEMPOTENCY_KEYS_TABLE", default_resource_name(stage, "idempotency-keys")
        ),
        token_ttl_seconds=_int("ECG_TOKEN_TTL_SECONDS", 3600),
        bcrypt_rounds=_int("ECG_BCRYPT_ROUNDS", 12),
        jwt_secret=os.environ.get("ECG_JWT_SECRET") or None,
        jwt_previous_secret=os.environ.get("ECG_JWT_PREVIOUS_SECRET") or None,
        jwt_secret_parameter=secret_parameter,
        jwt_previous_secret_parameter=f"{secret_parameter}{PREVIOUS_SECRET_SUFFIX}"
        if secret_parameter
        else None,
        db_max_retries=_int("ECG_DB_MAX_RETRIES", 3),
        login_max_failures=_int("ECG_LOGIN_MAX_FAILURES", 5),
        login_lockout_seconds=_int("ECG_LOGIN_LOCKOUT_SECONDS", 900),
        signals_bucket=os.environ.get("ECG_SIGNALS_BUCKET", default_resource_name(stage, "signals")),
        s3_endpoint=os.environ.get("ECG_S3_ENDPOINT") or None,
        sqs_endpoint=os.environ.get("ECG_SQS_ENDPOINT") or None,
        upload_url_seconds=_int("ECG_UPLOAD_URL_SECONDS", 3600),
    )
