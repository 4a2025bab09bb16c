from __future__ import annotations

import time

import jwt
import pytest

from chalicelib.auth.tokens import InvalidTokenError, Role, issue_token, verify_token

SECRET = "a-signing-secret-of-at-least-thirty-two-bytes"


def test_issued_token_carries_sub_role_iat_exp_jti():
    token = issue_token("alice", Role.USER, "stamp", SECRET, 3600).access_token
    claims = jwt.decode(token, SECRET, algorithms=["HS256"])
    assert claims["sub"] == "alice"
    assert claims["role"] == "user"
    assert claims["exp"] - claims["iat"] == 3600
    assert claims["jti"]


def test_every_token_has_a_distinct_jti():
    first = verify_token(issue_token("alice", Role.USER, "s", SECRET, 60).access_token, SECRET)
    second = verify_token(issue_token("alice", Role.USER, "s", SECRET, 60).access_token, SECRET)
    assert first.jti != second.jti


def test_expired_token_is_rejected():
    token = issue_token("alice", Role.USER, "s", SECRET, 60, now=time.time() - 120).access_token
    with pytest.raises(InvalidTokenError):
        verify_token(token, SECRET)


def test_token_signed_with_another_key_is_rejected():
    token = issue_token("alice", Role.USER, "s", "another-secret-that-is-also-long-enough!", 60)
    with pytest.raises(InvalidTokenError):
        verify_token(token.access_token, SECRET)


def test_unsigned_alg_none_token_is_rejected():
    now = int(time.time())
    claims = {"sub": "alice", "role": "admin", "iat": now, "exp": now + 60, "jti": "x", "stamp": "s"}
    token = jwt.encode(claims, None, algorithm="none")
    with pytest.raises(InvalidTokenError):
        verify_token(token, SECRET)


@pytest.mark.parametrize("missing", ["sub", "role", "iat", "exp", "jti", "stamp"])
def test_token_missing_a_required_claim_is_rejected(missing: str):
    now = int(time.time())
    claims = {"sub": "alice", "role": "user", "iat": now, "exp": now + 60, "jti": "x", "stamp": "s"}
    del claims[missing]
    with pytest.raises(InvalidTokenError):
        verify_token(jwt.encode(claims, SECRET, algorithm="HS256"), SECRET)


def test_token_with_unknown_role_is_rejected():
    now = int(time.time())
    claims = {"sub": "alice", "role": "root", "iat": now, "exp": now + 60, "jti": "x", "stamp": "s"}
    with pytest.raises(InvalidTokenError):
        verify_token(jwt.encode(claims, SECRET, algorithm="HS256"), SECRET)
