"""POST /auth/token, bad tokens of every kind, logout and password change."""

from __future__ import annotations

import base64
import json
import logging
import time

import jwt
import pytest

from chalicelib.api.auth import LOGIN_BODY_LIMIT, LOGIN_FORM_FIELDS
from chalicelib.auth.secret import key_id
from chalicelib.settings import get_settings
from tests.conftest import ADMIN
from tests.environment import SECRET
from tests.helpers import Api


def test_can_log_in_with_json(api: Api):
    reply = api.call("POST", "/auth/token", body={"username": ADMIN[0], "password": ADMIN[1]})
    assert reply.status == 200
    assert reply.json["token_type"] == "bearer"
    assert reply.json["expires_in"] == get_settings().token_ttl_seconds
    claims = jwt.decode(reply.json["access_token"], SECRET, algorithms=["HS256"])
    assert {"sub", "role", "iat", "exp", "jti"} <= set(claims)
    assert claims["sub"] == ADMIN[0] and claims["role"] == "admin"


def test_can_log_in_with_the_oauth2_password_form(api: Api):
    form = f"grant_type=password&username={ADMIN[0]}&password={ADMIN[1]}".encode()
    reply = api.call(
        "POST", "/auth/token", raw=form, headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert reply.status == 200
    assert api.call("GET", "/users/me", reply.json["access_token"]).status == 200


def test_form_login_with_another_grant_type_is_a_bad_request(api: Api):
    form = f"grant_type=client_credentials&username={ADMIN[0]}&password={ADMIN[1]}".encode()
    reply = api.call(
        "POST", "/auth/token", raw=form, headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert reply.status == 400


def test_wrong_password_and_unknown_user_get_the_same_401(api: Api):
    wrong_password = api.call("POST", "/auth/token", body={"username": ADMIN[0], "password": "nope-nope"})
    unknown_user = api.call("POST", "/auth/token", body={"username": "ghost", "password": "nope-nope"})
    assert wrong_password.status == unknown_user.status == 401
    assert wrong_password.raw == unknown_user.raw


def test_login_without_a_password_is_a_bad_request(api: Api):
    assert api.call("POST", "/auth/token", body={"username": ADMIN[0]}).status == 400


def test_login_with_malformed_json_is_a_bad_request(api: Api):
    assert api.call("POST", "/auth/token", raw=b'{"username": ').status == 400


def _forge(claims: dict, key: str = SECRET, algorithm: str = "HS256") -> str:
    return jwt.encode(claims, key, algorithm=algorithm, headers={"kid": key_id(key)})


def _claims(api: Api, **overrides) -> dict:
    claims = jwt.decode(api.admin_token, SECRET, algorithms=["HS256"])
    claims.update(overrides)
    return claims


def _unsigned(claims: dict) -> str:
    def part(value: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."


@pytest.mark.parametrize(
    "make_token",
    [
        pytest.param(lambda api: "not-a-jwt", id="malformed"),
        pytest.param(lambda api: api.admin_token[:-4] + "AAAA", id="tampered-signature"),
        pytest.param(lambda api: _unsigned(_claims(api)), id="alg-none"),
        pytest.param(
            lambda api: _forge(_claims(api), "another-key-that-is-long-enough-000000"), id="foreign-key"
        ),
        pytest.param(lambda api: _forge(_claims(api, exp=int(time.time()) - 10)), id="expired"),
        pytest.param(lambda api: _forge(_claims(api, role="user")), id="role-changed"),
        pytest.param(lambda api: _forge(_claims(api, stamp="forged")), id="wrong-stamp"),
        pytest.param(lambda api: _forge(_claims(api, exp=10**12)), id="absurd-expiry"),
        pytest.param(lambda api: "", id="empty"),
    ],
)
def test_bad_tokens_get_401(api: Api, make_token):
    reply = api.call("GET", "/users/me", headers={"Authorization": f"Bearer {make_token(api)}"})
    assert reply.status == 401
    assert reply.json == {"message": "Unauthorized", "code": "unauthorized"}


def test_missing_authorization_header_gets_401(api: Api):
    assert api.call("GET", "/users/me").status == 401


def test_non_bearer_scheme_gets_401(api: Api):
    reply = api.call("GET", "/users/me", headers={"Authorization": f"Basic {api.admin_token}"})
    assert reply.status == 401


def test_token_of_a_deleted_user_gets_401(api: Api):
    token = api.user_token("alice")
    assert api.call("DELETE", "/users/alice", api.admin_token).status == 204
    assert api.call("GET", "/users/me", token).status == 401


def test_token_of_a_deleted_then_recreated_user_gets_401(api: Api):
    token = api.user_token("alice")
    api.call("DELETE", "/users/alice", api.admin_token)
    assert api.create_user("alice").status == 201
    assert api.call("GET", "/users/me", token).status == 401


def test_logout_revokes_the_presented_token_only(api: Api):
    first = api.user_token("alice")
    second = api.login("alice", "user-password-1")
    assert api.call("POST", "/auth/logout", first).status == 204
    assert api.call("GET", "/users/me", first).status == 401
    assert api.call("GET", "/users/me", second).status == 200


def test_password_change_revokes_earlier_tokens_and_swaps_the_password(api: Api):
    token = api.user_token("alice")
    body = {"current_password": "user-password-1", "new_password": "brand-new-password"}
    assert api.call("PUT", "/users/me/password", token, body).status == 204
    assert api.call("GET", "/users/me", token).status == 401
    assert (
        api.call("POST", "/auth/token", body={"username": "alice", "password": "user-password-1"}).status
        == 401
    )
    fresh = api.login("alice", "brand-new-password")
    assert api.call("GET", "/users/me", fresh).status == 200


def test_password_change_with_the_wrong_current_password_gets_401_and_changes_nothing(api: Api):
    token = api.user_token("alice")
    body = {"current_password": "not-my-password", "new_password": "brand-new-password"}
    assert api.call("PUT", "/users/me/password", token, body).status == 401
    assert api.call("GET", "/users/me", token).status == 200
    assert api.login("alice", "user-password-1")


@pytest.mark.parametrize("new_password", ["short", "x" * 129])
def test_password_change_to_an_invalid_password_is_a_bad_request(api: Api, new_password: str):
    token = api.user_token("alice")
    body = {"current_password": "user-password-1", "new_password": new_password}
    assert api.call("PUT", "/users/me/password", token, body).status == 400


def test_logout_with_a_forged_absurd_expiry_is_401_not_a_crash(api: Api):
    token = _forge(_claims(api, exp=10**12))
    assert api.call("POST", "/auth/logout", token).status == 401


def test_each_denial_is_logged_once_without_the_token(api: Api, caplog: pytest.LogCaptureFixture):
    token = _forge(_claims(api, stamp="forged"))
    with caplog.at_level(logging.INFO, logger="ecg_insights.authorizer"):
        api.call("GET", "/users/me", token)
    lines = [
        json.loads(record.getMessage())
        for record in caplog.records
        if record.name == "ecg_insights.authorizer"
    ]
    assert [line["reason"] for line in lines] == ["password or role changed since the token was issued"]
    assert lines[0]["jti_sha256"] and token not in caplog.text


def test_login_body_over_4_kb_is_413(api: Api):
    body = json.dumps({"username": ADMIN[0], "password": "x" * LOGIN_BODY_LIMIT}).encode()
    assert api.call("POST", "/auth/token", raw=body).status == 413


def test_login_form_over_4_kb_is_413(api: Api):
    form = f"grant_type=password&username={ADMIN[0]}&password={'x' * LOGIN_BODY_LIMIT}".encode()
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    assert api.call("POST", "/auth/token", raw=form, headers=headers).status == 413


def test_login_form_with_too_many_fields_is_400(api: Api):
    form = "&".join(f"f{index}=1" for index in range(LOGIN_FORM_FIELDS + 1)).encode()
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    assert api.call("POST", "/auth/token", raw=form, headers=headers).status == 400
