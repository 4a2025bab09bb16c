"""Login throttling as the contract states it: 5 failures within 15 minutes lock a username."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from chalicelib import accounts
from chalicelib.auth import throttle
from chalicelib.errors import TooManyRequests, Unauthenticated
from chalicelib.settings import get_settings
from tests.helpers import Api, Reply

PASSWORD = "user-password-1"


def login(api: Api, username: str, password: str) -> Reply:
    return api.call("POST", "/auth/token", body={"username": username, "password": password})


def fail_logins(api: Api, username: str, times: int) -> list[int]:
    return [login(api, username, "wrong-password").status for _ in range(times)]


@pytest.fixture
def alice(api: Api) -> str:
    assert api.create_user("alice", PASSWORD).status == 201
    return "alice"


def test_five_failures_lock_the_username_even_for_the_right_password(api: Api, alice: str):
    limit = get_settings().login_max_failures
    assert fail_logins(api, alice, limit) == [401] * limit
    locked = login(api, alice, PASSWORD)
    assert locked.status == 429 and locked.json["code"] == "login_throttled"
    lockout = get_settings().login_lockout_seconds
    assert lockout - 5 <= int(locked.headers["retry-after"]) <= lockout


def test_an_unknown_username_is_locked_the_same_way(api: Api):
    limit = get_settings().login_max_failures
    assert fail_logins(api, "nobody-here", limit + 1) == [401] * limit + [429]


def test_fewer_failures_than_the_limit_then_a_success_start_the_count_again(api: Api, alice: str):
    limit = get_settings().login_max_failures
    fail_logins(api, alice, limit - 1)
    assert login(api, alice, PASSWORD).status == 200
    assert fail_logins(api, alice, limit - 1) == [401] * (limit - 1)
    assert login(api, alice, PASSWORD).status == 200


def test_the_lock_ends_one_lockout_period_after_the_last_failure(
    api: Api, alice: str, monkeypatch: pytest.MonkeyPatch
):
    fail_logins(api, alice, get_settings().login_max_failures)
    later = time.time() + get_settings().login_lockout_seconds + 1
    monkeypatch.setattr(throttle.time, "time", lambda: later)
    assert login(api, alice, PASSWORD).status == 200


def test_wrong_current_passwords_count_as_failed_logins(api: Api, alice: str):
    token = api.login(alice, PASSWORD)
    limit = get_settings().login_max_failures
    change = {"current_password": "wrong-password", "new_password": "another-password"}
    statuses = [api.call("PUT", "/users/me/password", token, change).status for _ in range(limit)]
    assert statuses == [401] * limit
    assert login(api, alice, PASSWORD).status == 429


def test_parallel_guesses_cannot_slip_past_the_limit(api: Api, alice: str):
    def attempt(_: int) -> str:
        try:
            accounts.login(accounts.Credentials(alice, "wrong-password"))
        except Unauthenticated:
            return "401"
        except TooManyRequests:
            return "429"
        return "200"

    with ThreadPoolExecutor(max_workers=10) as pool:
        outcomes = list(pool.map(attempt, range(10)))
    limit = get_settings().login_max_failures
    assert sorted(outcomes) == ["401"] * limit + ["429"] * (10 - limit)


@pytest.mark.parametrize(
    ("failures", "now", "expected"),
    [
        ([], 100.0, 0.0),
        ([1.0, 2.0, 3.0, 4.0], 5.0, 0.0),
        ([1.0, 2.0, 3.0, 4.0, 5.0], 6.0, 899.0),
        ([1.0, 2.0, 3.0, 4.0, 902.0], 903.0, 0.0),
        ([1.0, 2.0, 3.0, 4.0, 5.0], 906.0, 0.0),
    ],
)
def test_lockout_counts_failures_within_the_period_to_the_last_one(
    failures: list[float], now: float, expected: float
):
    assert throttle.locked_for(failures, now, limit=5, lockout=900) == expected
