"""The JWT signing secret: from the environment locally, from SSM Parameter Store on AWS."""

from __future__ import annotations

from functools import cache

from chalicelib.settings import get_settings

MIN_SECRET_BYTES = 32


class MissingSecretError(RuntimeError):
    """The stage has no usable signing secret configured."""


@cache
def signing_secret() -> str:
    """Read once per container and cached; never logged."""
    settings = get_settings()
    if settings.jwt_secret:
        secret = settings.jwt_secret
    elif settings.jwt_secret_parameter:
        import boto3

        ssm = boto3.client("ssm", region_name=settings.region)
        response = ssm.get_parameter(Name=settings.jwt_secret_parameter, WithDecryption=True)
        secret = response["Parameter"]["Value"]
    else:
        raise MissingSecretError("set ECG_JWT_SECRET or ECG_JWT_SECRET_PARAMETER")
    if len(secret.encode("utf-8")) < MIN_SECRET_BYTES:
        raise MissingSecretError(f"the signing secret must be at least {MIN_SECRET_BYTES} bytes")
    return secret
