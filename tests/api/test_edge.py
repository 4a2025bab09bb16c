"""Input at the edge: whatever arrives, the answer is a documented 4xx, never a 500."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.helpers import Api

JSON_ROUTES = [
    ("POST", "/auth/token", None),
    ("POST", "/users", "admin"),
    ("PUT", "/users/me/password", "admin"),
    ("POST", "/ecgs", "user"),
]


@pytest.fixture
def alice(api: Api) -> str:
    return api.user_token("alice")


def token_for(api: Api, alice: str, who: str | None) -> str | None:
    return {"admin": api.admin_token, "user": alice, None: None}[who]


@pytest.mark.parametrize("limit", ["²", "¹", "\u0663", "\uff13", "1" * 5000, "0", "101", "-1", "1.0", " 1"])
def test_a_limit_that_is_not_ascii_digits_from_1_to_100_is_400(api: Api, alice: str, limit: str):
    reply = api.call("GET", f"/ecgs?limit={limit}", alice)
    assert reply.status == 400 and reply.json["code"] == "invalid_query"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(limit=st.text(min_size=1, max_size=12))
def test_any_unicode_limit_is_a_page_or_a_400(api: Api, alice: str, limit: str):
    from urllib.parse import quote

    reply = api.call("GET", f"/users?limit={quote(limit)}", api.admin_token)
    assert reply.status in (200, 400)


@pytest.mark.parametrize(("method", "path", "who"), JSON_ROUTES)
def test_a_json_body_that_is_not_utf8_is_400(api: Api, alice: str, method: str, path: str, who: str | None):
    reply = api.call(method, path, token_for(api, alice, who), raw=b'{"username": "\xff\xfe"}')
    assert reply.status == 400 and reply.json["code"] == "malformed_body"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=st.binary(min_size=1, max_size=64))
def test_any_bytes_as_an_ecg_body_are_a_4xx(api: Api, alice: str, raw: bytes):
    assert 400 <= api.call("POST", "/ecgs", alice, raw=raw).status < 500


def test_deeply_nested_json_is_400_at_the_first_level_too_deep(api: Api, alice: str):
    raw = b'{"date": "2026-11-27T10:00:00Z", "leads": [{"name": "I", "signal": ' + b"[" * 100_000
    reply = api.call("POST", "/ecgs", alice, raw=raw)
    assert reply.status == 400 and "signal[0]" in reply.json["message"]
