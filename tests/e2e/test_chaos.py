"""Chaos: concurrent clients against the real HTTP server while the database and S3 misbehave.

A seeded fault layer sits between the app and its (embedded) DynamoDB and S3 and, per request,
throttles, fails, resets the connection, or applies a write and then drops its answer — what
a flaky network really does. Four clients create, list and delete ECGs and change passwords,
repeating a request after a 503 as API.md tells them to. Afterwards the faults stop and the
API and the tables are checked: no 500 ever, every 503 with Retry-After, no 409 or 404 for a
client's own write, every 201 readable whole unless deleted, no duplicate, nothing partial,
every stored ECG's object committed, and any other object that no lifecycle rule removes named
in an error log line (what the store cannot settle when every step of its clean-up fails too).
"""

from __future__ import annotations

import json
import random
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from chalicelib.settings import get_settings
from chalicelib.store.models import EcgItem
from devtools.local_stack import free_port
from tests.faults import answer_with, operation_of
from tests.helpers import lasting_objects

CLIENTS = 4
ECGS_PER_CLIENT = 5
ATTEMPTS = 25  # repeats of one request after 503s before the test gives up on it
PASSWORD = "chaos-password-1"


@dataclass(frozen=True)
class Profile:
    lost: float  # the write is applied, its answer dropped
    reset: float  # the connection drops before the request arrives
    throttle: float
    internal: float
    retries: int  # botocore's retries after the first attempt


PROFILES = {
    "mild": Profile(lost=0.05, reset=0.03, throttle=0.05, internal=0.02, retries=2),
    "harsh": Profile(lost=0.15, reset=0.05, throttle=0.05, internal=0.03, retries=1),
}


@dataclass
class Chaos:
    """Decides each database request's fate from one seeded random stream."""

    profile: Profile
    seed: int
    enabled: bool = False
    injected: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)
        self._lock = threading.Lock()

    def __call__(self, request: Any) -> str | None:
        if not self.enabled or not operation_of(request):
            return None
        with self._lock:
            draw = self._random.random()
        for kind in ("lost", "reset", "throttle", "internal"):
            share = getattr(self.profile, kind)
            if draw < share:
                with self._lock:
                    self.injected[kind] = self.injected.get(kind, 0) + 1
                return kind
            draw -= share
        return None


@dataclass
class Client:
    base_url: str
    statuses: list[tuple[str, int, bool]] = field(default_factory=list)  # (what, status, Retry-After)

    def call(self, method: str, path: str, token: str | None = None, body: Any = None, **headers: str) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base_url + path, data=data, method=method)
        request.add_header("Content-Type", "application/json")
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        for name, value in headers.items():
            request.add_header(name.replace("_", "-"), value)
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                status, raw, retry_after = (
                    response.status,
                    response.read(),
                    response.headers.get("Retry-After"),
                )
        except urllib.error.HTTPError as error:
            status, raw, retry_after = error.code, error.read(), error.headers.get("Retry-After")
        self.statuses.append((f"{method} {path}", status, retry_after is not None))
        return status, (json.loads(raw) if raw else None)

    def until_answered(self, method: str, path: str, *args: Any, **kwargs: Any) -> tuple[int, Any, bool]:
        """Repeat after 503s; also say whether a 503 came first (the outcome was unknown once)."""
        unknown = False
        for _ in range(ATTEMPTS):
            status, body = self.call(method, path, *args, **kwargs)
            if status == 409 and body["code"] == "idempotency_key_in_use":
                time.sleep(1)  # "retry later": the first attempt's claim is still running or leased
                continue
            if status != 503:
                return status, body, unknown
            unknown = True
        raise AssertionError(f"{method} {path} answered 503 {ATTEMPTS} times: {body}")


def signal_of(user: int, index: int) -> list[int]:
    return [(user * 31 + index * 7 + sample) % 17 - 8 for sample in range(40)]


@pytest.fixture
def chaos_stack(
    aws: None, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> Iterator[tuple[str, Chaos]]:
    from botocore.retries.standard import ExponentialBackoff, RetryQuotaChecker
    from moto.core.botocore_stubber import BotocoreStubber

    from app import app
    from chalicelib.accounts import NewUser, register
    from chalicelib.auth.tokens import Role
    from devtools.local_stack import make_server

    profile_name, seed = request.param
    profile = PROFILES[profile_name]
    monkeypatch.setenv("ECG_DB_MAX_RETRIES", str(profile.retries))
    get_settings.cache_clear()
    monkeypatch.setattr(ExponentialBackoff, "delay_amount", lambda self, context: 0)
    monkeypatch.setattr(RetryQuotaChecker, "acquire_retry_quota", lambda self, context: True)
    chaos = Chaos(profile, seed)
    moto_answer = BotocoreStubber.__call__

    database = threading.Lock()  # moto is not thread-safe; DynamoDB and S3 are: one request at a time

    def answer(self: BotocoreStubber, event_name: str, request: Any, **kwargs: Any) -> Any:
        def apply() -> Any:
            with database:
                return moto_answer(self, event_name, request, **kwargs)

        kind = chaos(request)
        return apply() if kind is None else answer_with(kind, request, apply)

    monkeypatch.setattr(BotocoreStubber, "__call__", answer)
    register(NewUser("chaos-admin", "chaos-admin-password", Role.ADMIN))
    app_class = app.__class__
    port = free_port()
    server = make_server("127.0.0.1", port)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}", chaos
    finally:
        server.shutdown()
        thread.join(timeout=10)
        app.__class__ = app_class
        monkeypatch.undo()
        get_settings.cache_clear()


def run_client(
    base_url: str, admin_token: str, user: int, problems: list[str], outcome: dict[str, Any]
) -> None:
    try:
        scenario(base_url, admin_token, user, problems, outcome)
    except Exception as error:  # reported with the others, not lost with the thread
        problems.append(f"chaos-user-{user}: {error!r}")


def scenario(
    base_url: str, admin_token: str, user: int, problems: list[str], outcome: dict[str, Any]
) -> None:
    client = Client(base_url)
    outcome["client"] = client
    name = f"chaos-user-{user}"
    status, _, unknown = client.until_answered(
        "POST",
        "/users",
        admin_token,
        {"username": name, "password": PASSWORD},
        Idempotency_Key=f"user-{user}",
    )
    if status != 201:
        problems.append(f"creating {name}: {status} (after a 503: {unknown})")
        return
    status, body, _ = client.until_answered(
        "POST", "/auth/token", None, {"username": name, "password": PASSWORD}
    )
    if status != 200:
        problems.append(f"login of {name}: {status}")
        return
    token = body["access_token"]
    kept: dict[str, list[int]] = {}
    for index in range(ECGS_PER_CLIENT):
        ecg = {
            "id": f"e{index}",
            "date": "2026-11-27T10:00:00Z",
            "leads": [{"name": "I", "signal": signal_of(user, index)}],
        }
        status, _, unknown = client.until_answered(
            "POST", "/ecgs", token, ecg, Idempotency_Key=f"ecg-{index}"
        )
        if status != 201:
            problems.append(f"{name} creating e{index}: {status} (after a 503: {unknown})")
        kept[f"e{index}"] = signal_of(user, index)
    unnamed = {"date": "2026-11-27T10:00:00Z", "leads": [{"name": "I", "signal": signal_of(user, 99)}]}
    status, body, _ = client.until_answered("POST", "/ecgs", token, unnamed, Idempotency_Key="unnamed")
    if status == 201:
        kept[body["id"]] = signal_of(user, 99)
    else:
        problems.append(f"{name} creating without an id: {status}")
    for index in (0, 1):
        status, _, unknown = client.until_answered("DELETE", f"/ecgs/e{index}", token)
        if status != 204 and not (status == 404 and unknown):
            problems.append(f"{name} deleting e{index}: {status} (after a 503: {unknown})")
        del kept[f"e{index}"]
    status, _, unknown = client.until_answered(
        "PUT", "/users/me/password", token, {"current_password": PASSWORD, "new_password": PASSWORD + "-new"}
    )
    if status != 204 and not (status == 401 and unknown):
        problems.append(f"{name} changing the password: {status} (after a 503: {unknown})")
    outcome.update(name=name, kept=kept)


@pytest.mark.parametrize("chaos_stack", [("mild", 1), ("harsh", 2), ("harsh", 3)], indirect=True, ids=str)
def test_concurrent_clients_get_honest_answers_and_whole_records(
    chaos_stack: tuple[str, Chaos], caplog: pytest.LogCaptureFixture
) -> None:
    base_url, chaos = chaos_stack
    admin = Client(base_url)
    _, body = admin.call(
        "POST", "/auth/token", None, {"username": "chaos-admin", "password": "chaos-admin-password"}
    )
    admin_token = body["access_token"]
    chaos.enabled = True
    problems: list[str] = []
    outcomes: list[dict[str, Any]] = [{} for _ in range(CLIENTS)]
    threads = [
        threading.Thread(target=run_client, args=(base_url, admin_token, user, problems, outcomes[user]))
        for user in range(CLIENTS)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    chaos.enabled = False

    assert sum(chaos.injected.values()) > 20, chaos.injected  # the faults really happened
    statuses = [entry for outcome in outcomes for entry in outcome["client"].statuses]
    assert not [entry for entry in statuses if entry[1] >= 500 and entry[1] != 503], "a 5xx other than 503"
    assert all(has_retry_after for _, status, has_retry_after in statuses if status == 503)
    assert problems == []
    for outcome in outcomes:
        owner, kept = outcome["name"], outcome["kept"]
        stored = list(EcgItem.query(owner))
        assert sorted(item.ecg_id for item in stored) == sorted(kept), "a lost, extra or duplicate ECG"
        referenced = {item.signal_key for item in stored}
        assert referenced <= set(lasting_objects(owner)), "an ECG whose signal a lifecycle rule will expire"
        orphans = set(lasting_objects(owner)) - referenced
        assert all(any(key in line for line in caplog.messages) for key in orphans), (
            "an orphan nobody is told of"
        )
        login = Client(base_url)
        _, body = login.call("POST", "/auth/token", None, {"username": owner, "password": PASSWORD + "-new"})
        token = body["access_token"]
        for ecg_id, signal in kept.items():
            _, ecg = login.call("GET", f"/ecgs/{ecg_id}", token)
            assert ecg["leads"][0]["signal"] == signal
