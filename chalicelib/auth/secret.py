"""The JWT signing secrets: from the environment locally, from SSM Parameter Store on AWS.

Two may be configured: the current one signs, and during a rotation the previous one still
verifies the tokens it signed until they expire. A token's `kid` header names its secret by a
fingerprint, so nothing about the secret itself is revealed and operators name nothing."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cache

from chalicelib.settings import get_settings

MIN_SECRET_BYTES = 32


class MissingSecretError(RuntimeError):
    """The stage has no usable signing secret configured."""


def key_id(secret: str) -> str:
    return hashlib.sha256(b"ecg-insights/kid/" + secret.encode("utf-8")).hexdigest()[:16]


@dataclass(frozen=True)
class SigningKeys:
    current: str
    previous: str | None = None

    def signing(self) -> tuple[str, str]:
        return key_id(self.current), self.current

    def for_kid(self, kid: str) -> str | None:
        return next(
            (secret for secret in (self.current, self.previous) if secret and key_id(secret) == kid), None
        )


def _checked(secret: str) -> str:
    if len(secret.encode("utf-8")) < MIN_SECRET_BYTES:
        raise MissingSecretError(f"the signing secret must be at least {MIN_SECRET_BYTES} bytes")
    return secret


def _from_ssm(names: list[str]) -> dict[str, str]:
    """One call for both parameters; a missing previous secret is simply not in rotation."""
    import boto3

    ssm = boto3.client("ssm", region_name=get_settings().region)
    response = ssm.get_parameters(Names=names, WithDecryption=True)
    return {parameter["Name"]: parameter["Value"] for parameter in response["Parameters"]}


@cache
def signing_keys() -> SigningKeys:
    """Read once per container and cached; never logged."""
    settings = get_settings()
    if settings.jwt_secret:
        current, previous = settings.jwt_secret, settings.jwt_previous_secret
    elif settings.jwt_secret_parameter:
        names = [settings.jwt_secret_parameter]
        if settings.jwt_previous_secret_parameter:
            names.append(settings.jwt_previous_secret_parameter)
        found = _from_ssm(names)
        if settings.jwt_secret_parameter not in found:
            raise MissingSecretError(f"SSM parameter {settings.jwt_secret_parameter} does not exist")
        current = found[settings.jwt_secret_parameter]
        previous = found.get(settings.jwt_previous_secret_parameter or "")
    else:
        raise MissingSecretError("set ECG_JWT_SECRET or ECG_JWT_SECRET_PARAMETER")
    return SigningKeys(_checked(current), _checked(previous) if previous else None)
