"""Issue and verify the service's JWTs. No Chalice, no NumPy: the authorizer imports this."""

from __future__ import annotations

import enum
import time
import uuid
from dataclasses import dataclass

import jwt

from chalicelib.auth.secret import SigningKeys

ALGORITHM = "HS256"
REQUIRED_CLAIMS = ("exp", "iat", "sub", "role", "jti", "stamp")
CLOCK_SKEW_SECONDS = 60


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
    username: str, role: Role, stamp: str, keys: SigningKeys, ttl_seconds: int, now: float | None = None
) -> IssuedToken:
    """Signed with the current secret; `kid` names it, so a rotation can overlap two secrets."""
    issued_at = int(time.time() if now is None else now)
    claims = {
        "sub": username,
        "role": role.value,
        "iat": issued_at,
        "exp": issued_at + ttl_seconds,
        "jti": uuid.uuid4().hex,
        "stamp": stamp,
    }
    kid, secret = keys.signing()
    return IssuedToken(jwt.encode(claims, secret, algorithm=ALGORITHM, headers={"kid": kid}), ttl_seconds)


def _secret_for(token: str, keys: SigningKeys) -> str:
    kid = jwt.get_unverified_header(token).get("kid")
    secret = keys.for_kid(kid) if isinstance(kid, str) else None
    if secret is None:
        raise InvalidTokenError("unknown key id")
    return secret


def verify_token(token: str, keys: SigningKeys, max_lifetime_seconds: int) -> TokenClaims:
    """HS256 only, signed with a known secret, unexpired, every claim present, and no longer-lived
    than this service issues (a token that claims to live for decades is not one of ours)."""
    try:
        claims = jwt.decode(
            token,
            _secret_for(token, keys),
            algorithms=[ALGORITHM],
            options={"require": list(REQUIRED_CLAIMS)},
            leeway=0,
        )
        role = Role(claims["role"])
        issued_at, expires_at = claims["iat"], claims["exp"]
    except (jwt.PyJWTError, ValueError, TypeError) as error:
        raise InvalidTokenError(str(error)) from None
    if not all(isinstance(value, int) for value in (issued_at, expires_at)):
        raise InvalidTokenError("iat and exp must be integers")
    if expires_at - issued_at > max_lifetime_seconds + CLOCK_SKEW_SECONDS:
        raise InvalidTokenError("the token lives longer than this service issues tokens for")
    if issued_at > time.time() + CLOCK_SKEW_SECONDS:
        raise InvalidTokenError("the token was issued in the future")
    username, jti, stamp = claims["sub"], claims["jti"], claims["stamp"]
    if not all(isinstance(value, str) and value for value in (username, jti, stamp)):
        raise InvalidTokenError("sub, jti and stamp must be non-empty strings")
    return TokenClaims(username, role, jti, issued_at, expires_at, stamp)
