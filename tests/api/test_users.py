"""POST/GET/DELETE /users and GET /users/me."""

from __future__ import annotations

import pytest

from tests.conftest import ADMIN
from tests.helpers import Api


def test_admin_can_create_a_user(api: Api):
    reply = api.create_user("alice")
    assert reply.status == 201
    assert reply.headers["location"] == "/users/alice"
    assert set(reply.json) == {"username", "role", "created_at"}
    assert reply.json["role"] == "user"


def test_role_defaults_to_user_and_admin_can_be_chosen(api: Api):
    reply = api.call(
        "POST", "/users", api.admin_token, {"username": "second", "password": "pass-word-2", "role": "admin"}
    )
    assert reply.json["role"] == "admin"
    assert api.call("GET", "/users", api.login("second", "pass-word-2")).status == 200


def test_no_response_ever_contains_the_password_or_its_hash(api: Api):
    created = api.create_user("alice", "visible-password")
    listed = api.call("GET", "/users", api.admin_token)
    fetched = api.call("GET", "/users/alice", api.admin_token)
    for reply in (created, listed, fetched):
        assert b"visible-password" not in reply.raw
        assert b"$2b$" not in reply.raw and b"password" not in reply.raw


def test_duplicate_username_is_a_conflict(api: Api):
    api.create_user("alice")
    assert api.create_user("alice").status == 409


@pytest.mark.parametrize("username", ["ab", "me", "x" * 65, "has space", "émile", "semi;colon", ""])
def test_invalid_username_is_a_bad_request(api: Api, username: str):
    reply = api.create_user(username)
    assert reply.status == 400
    assert "username" in reply.json["message"]


@pytest.mark.parametrize("username", ["abc", "a.b_c@d-e", "x" * 64, "mee", "Alice.Smith@example.org"])
def test_valid_usernames_are_accepted(api: Api, username: str):
    assert api.create_user(username).status == 201


@pytest.mark.parametrize("password", ["1234567", "x" * 129])
def test_password_outside_8_to_128_characters_is_a_bad_request(api: Api, password: str):
    assert api.create_user("alice", password).status == 400


def test_long_multibyte_password_can_log_in(api: Api):
    password = "ü🫀" * 64
    api.create_user("alice", password)
    assert api.login("alice", password)


def test_passwords_sharing_the_first_72_bytes_are_different_passwords(api: Api):
    api.create_user("alice", "a" * 72 + "-one")
    reply = api.call("POST", "/auth/token", body={"username": "alice", "password": "a" * 72 + "-two"})
    assert reply.status == 401


def test_unknown_role_is_a_bad_request(api: Api):
    body = {"username": "alice", "password": "user-password-1", "role": "root"}
    assert api.call("POST", "/users", api.admin_token, body).status == 400


def test_unknown_field_is_a_bad_request_naming_it(api: Api):
    body = {"username": "alice", "password": "user-password-1", "is_admin": True}
    reply = api.call("POST", "/users", api.admin_token, body)
    assert reply.status == 400
    assert "is_admin" in reply.json["message"]


def test_non_json_body_is_unsupported(api: Api):
    reply = api.call(
        "POST", "/users", api.admin_token, raw=b"username=x", headers={"Content-Type": "text/plain"}
    )
    assert reply.status == 415


def test_admin_can_get_a_user(api: Api):
    api.create_user("alice")
    reply = api.call("GET", "/users/alice", api.admin_token)
    assert reply.status == 200 and reply.json["username"] == "alice"


def test_unknown_user_is_not_found(api: Api):
    assert api.call("GET", "/users/nobody", api.admin_token).status == 404


def test_users_are_listed_across_pages_without_repeats(api: Api):
    for index in range(5):
        api.create_user(f"user{index}")
    seen, token, pages = [], None, 0
    while True:
        path = "/users?limit=2" + (f"&next_token={token}" if token else "")
        reply = api.call("GET", path, api.admin_token)
        assert reply.status == 200
        assert len(reply.json["items"]) <= 2
        seen += [user["username"] for user in reply.json["items"]]
        pages += 1
        token = reply.json["next_token"]
        if token is None:
            break
    assert sorted(seen) == sorted([ADMIN[0]] + [f"user{index}" for index in range(5)])
    assert pages == 3


@pytest.mark.parametrize(
    "query", ["limit=0", "limit=101", "limit=abc", "limit=-1", "limit=", "next_token=garbage"]
)
def test_bad_list_parameters_are_a_bad_request(api: Api, query: str):
    assert api.call("GET", f"/users?{query}", api.admin_token).status == 400


def test_admin_can_delete_a_user(api: Api):
    api.create_user("alice")
    assert api.call("DELETE", "/users/alice", api.admin_token).status == 204
    assert api.call("GET", "/users/alice", api.admin_token).status == 404
    assert (
        api.call("POST", "/auth/token", body={"username": "alice", "password": "user-password-1"}).status
        == 401
    )


def test_deleting_an_unknown_user_is_not_found(api: Api):
    assert api.call("DELETE", "/users/nobody", api.admin_token).status == 404


def test_admin_cannot_delete_their_own_account(api: Api):
    assert api.call("DELETE", f"/users/{ADMIN[0]}", api.admin_token).status == 409


def test_deleting_a_user_deletes_their_ecgs(api: Api):
    token = api.user_token("alice")
    ecg = {"id": "keep-me", "date": "2026-11-27T10:00:00Z", "leads": [{"name": "I", "signal": [1, -1]}]}
    assert api.call("POST", "/ecgs", token, ecg).status == 201
    api.call("DELETE", "/users/alice", api.admin_token)
    again = api.user_token("alice")
    assert api.call("GET", "/ecgs", again).json["items"] == []
    assert api.call("GET", "/ecgs/keep-me", again).status == 404
    assert api.call("POST", "/ecgs", again, ecg).status == 201


def test_anyone_signed_in_can_read_their_own_account(api: Api):
    token = api.user_token("alice")
    assert api.call("GET", "/users/me", token).json["username"] == "alice"
    assert api.call("GET", "/users/me", api.admin_token).json["role"] == "admin"


def test_user_path_parameter_may_be_url_encoded(api: Api):
    api.create_user("alice@example.com")
    assert api.call("GET", "/users/alice%40example.com", api.admin_token).status == 200


@pytest.mark.parametrize("username", ["u" * 3000, "a", "%ZZ"])
def test_usernames_no_account_could_have_are_not_found(api: Api, username: str):
    assert api.call("GET", f"/users/{username}", api.admin_token).status == 404
    assert api.call("DELETE", f"/users/{username}", api.admin_token).status == 404
