from __future__ import annotations

import time

import jwt
import pytest

from chalicelib.auth.secret import SigningKeys, key_id
from chalicelib.auth.tokens import CLOCK_SKEW_SECONDS, InvalidTokenError, Role, issue_token, verify_token

SECRET = "a-signing-secret-of-at-least-thirty-two-bytes"
KEYS = SigningKeys(SECRET)
LIFETIME = 3600


def forged(claims: dict, secret: str = SECRET) -> str:
    return jwt.encode(claims, secret, algorithm="HS256", headers={"kid": key_id(secret)})


def verify(token: str, keys: SigningKeys = KEYS):
    return verify_token(token, keys, LIFETIME)


def test_issued_token_carries_sub_role_iat_exp_jti():
    token = issue_token("alice", Role.USER, "stamp", KEYS, LIFETIME).access_token
    claims = jwt.decode(token, SECRET, algorithms=["HS256"])
    assert claims["sub"] == "alice"
    assert claims["role"] == "user"
    assert claims["exp"] - claims["iat"] == LIFETIME
    assert claims["jti"]


def test_every_token_has_a_distinct_jti():
    first = verify(issue_token("alice", Role.USER, "s", KEYS, 60).access_token)
    second = verify(issue_token("alice", Role.USER, "s", KEYS, 60).access_token)
    assert first.jti != second.jti


def test_expired_token_is_rejected():
    token = issue_token("alice", Role.USER, "s", KEYS, 60, now=time.time() - 120).access_token
    with pytest.raises(InvalidTokenError):
        verify(token)


def test_token_signed_with_another_key_is_rejected():
    token = issue_token("alice", Role.USER, "s", SigningKeys("another-secret-that-is-also-long-enough!"), 60)
    with pytest.raises(InvalidTokenError):
        verify(token.access_token)


def test_unsigned_alg_none_token_is_rejected():
    now = int(time.time())
    claims = {"sub": "alice", "role": "admin", "iat": now, "exp": now + 60, "jti": "x", "stamp": "s"}
    token = jwt.encode(claims, None, algorithm="none")
    with pytest.raises(InvalidTokenError):
        verify(token)


@pytest.mark.parametrize("missing", ["sub", "role", "iat", "exp", "jti", "stamp"])
def test_token_missing_a_required_claim_is_rejected(missing: str):
    now = int(time.time())
    claims = {"sub": "alice", "role": "user", "iat": now, "exp": now + 60, "jti": "x", "stamp": "s"}
    del claims[missing]
    with pytest.raises(InvalidTokenError):
        verify(forged(claims))


def test_token_with_unknown_role_is_rejected():
    now = int(time.time())
    claims = {"sub": "alice", "role": "root", "iat": now, "exp": now + 60, "jti": "x", "stamp": "s"}
    with pytest.raises(InvalidTokenError):
        verify(forged(claims))


def claims_now(**overrides: object) -> dict:
    now = int(time.time())
    return {
        "sub": "alice",
        "role": "user",
        "iat": now,
        "exp": now + 60,
        "jti": "x",
        "stamp": "s",
        **overrides,
    }


def test_token_living_longer_than_the_service_issues_is_rejected():
    now = int(time.time())
    with pytest.raises(InvalidTokenError):
        verify(forged(claims_now(exp=now + LIFETIME + CLOCK_SKEW_SECONDS + 1)))


def test_token_with_an_absurd_expiry_is_rejected():
    with pytest.raises(InvalidTokenError):
        verify(forged(claims_now(exp=10**13)))


def test_token_issued_in_the_future_is_rejected():
    now = int(time.time())
    with pytest.raises(InvalidTokenError):
        verify(forged(claims_now(iat=now + 3 * CLOCK_SKEW_SECONDS, exp=now + 4 * CLOCK_SKEW_SECONDS)))


def test_token_names_its_secret_by_kid():
    token = issue_token("alice", Role.USER, "s", KEYS, 60).access_token
    assert jwt.get_unverified_header(token)["kid"] == key_id(SECRET)


def test_token_of_the_previous_secret_verifies_during_a_rotation():
    old = issue_token("alice", Role.USER, "s", SigningKeys(SECRET), 60).access_token
    rotated = SigningKeys("the-new-signing-secret-of-32-bytes-or-more", previous=SECRET)
    assert verify(old, rotated).username == "alice"


def test_token_of_a_secret_rotated_out_is_rejected():
    old = issue_token("alice", Role.USER, "s", SigningKeys(SECRET), 60).access_token
    with pytest.raises(InvalidTokenError):
        verify(old, SigningKeys("the-new-signing-secret-of-32-bytes-or-more"))


def test_token_with_an_unknown_kid_is_rejected():
    token = jwt.encode(claims_now(), SECRET, algorithm="HS256", headers={"kid": "someone-else"})
    with pytest.raises(InvalidTokenError):
        verify(token)
