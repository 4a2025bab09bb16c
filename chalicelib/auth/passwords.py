"""bcrypt password hashing that accepts any password of 8-128 characters of Unicode.

bcrypt only reads 72 bytes (and bcrypt 5 raises beyond that), so the password is first
reduced to a fixed 44-byte HMAC-SHA-256 digest in base64: every character counts and no
NUL byte reaches bcrypt.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from functools import cache

import bcrypt

_PREHASH_KEY = b"ecg-insights/password-prehash/v1"


def _prehash(password: str) -> bytes:
    digest = hmac.new(_PREHASH_KEY, password.encode("utf-8"), hashlib.sha256).digest()
    return base64.b64encode(digest)


def hash_password(password: str, rounds: int) -> str:
    return bcrypt.hashpw(_prehash(password), bcrypt.gensalt(rounds)).decode("ascii")


@cache
def _dummy_hash(rounds: int) -> bytes:
    return bcrypt.hashpw(b"not-a-real-password", bcrypt.gensalt(rounds))


def check_password(password: str, password_hash: str | None, rounds: int) -> bool:
    """Check a password; with no hash (unknown user) spend the same time and say no."""
    if password_hash is None:
        bcrypt.checkpw(_prehash(password), _dummy_hash(rounds))
        return False
    return bcrypt.checkpw(_prehash(password), password_hash.encode("ascii"))
