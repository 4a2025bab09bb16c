"""Issue and verify the service's JWTs. No Chalice, no NumPy: the authorizer imports this."""

from __future__ import annotations

import enum
import time
import uuid
from dataclasses import dataclass

import jwt

ALGORITHM = "HS256"
REQUIRED_CLAIMS = ("exp", "iat", "sub", "role", "jti", "stamp")


class Role(enum.StrEnum):
    ADMIN = "admin"
    USER = "user"


class InvalidTokenError(Exception):
    """The token is not one this service issued, or it has expired."""


@dataclass(frozen=True)
class IssuedToken:
    access_token: str
    expires_in: int


@dataclass(frozen=True)
class TokenClaims:
    """The verified claims. `stamp` ties the token to one password of one account."""

    username: str
    role: Role
    jti: str
    issued_at: int
    expires_at: int
    stamp: str


def issue_token(
    username: str, role: Role, stamp: str, secret: str, ttl_seconds: int, now: float | None = None
) -> IssuedToken:
    issued_at = int(time.time() if now is None else now)
    claims = {
        "sub": username,
        "role": role.value,
        "iat": issued_at,
        "exp": issued_at + ttl_seconds,
        "jti": uuid.uuid4().hex,
        "stamp": stamp,
    }
    return IssuedToken(jwt.encode(claims, secret, algorithm=ALGORITHM), ttl_seconds)


def verify_token(token: str, secret: str) -> TokenClaims:
    """Accept only HS256 tokens signed with `secret`, unexpired, with every claim present."""
    try:
        claims = jwt.decode(token, secret, algorithms=[ALGORITHM], options={"require": list(REQUIRED_CLAIMS)})
        role = Role(claims["role"])
    except (jwt.PyJWTError, ValueError, TypeError) as error:
        raise InvalidTokenError(str(error)) from None
    username, jti, stamp = claims["sub"], claims["jti"], claims["stamp"]
    if not all(isinstance(value, str) and value for value in (username, jti, stamp)):
        raise InvalidTokenError("sub, jti and stamp must be non-empty strings")
    return TokenClaims(username, role, jti, int(claims["iat"]), int(claims["exp"]), stamp)
