"""`make run` as a client sees it: over HTTP, with concurrency the test client cannot show."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

from tests.e2e.conftest import ADMIN, Stack
from tests.environment import FAST_BCRYPT_ROUNDS


def test_first_admin_comes_from_the_environment(stack: Stack):
    token = stack.login(*ADMIN)
    assert stack.call("GET", "/users/me", token).json["role"] == "admin"


def test_a_new_user_can_upload_and_read_back_over_http(stack: Stack):
    admin = stack.login(*ADMIN)
    assert (
        stack.call("POST", "/users", admin, {"username": "http-user", "password": "http-password"}).status
        == 201
    )
    token = stack.login("http-user", "http-password")
    body = {"id": "http-1", "date": "2026-11-27T10:00:00Z", "leads": [{"name": "I", "signal": [1, -1, 0, 2]}]}
    assert stack.call("POST", "/ecgs", token, body).status == 201
    assert stack.call("GET", "/ecgs/http-1", token).json["leads"][0]["signal"] == [1, -1, 0, 2]
    assert stack.call("GET", "/ecgs/http-1/insights", token).json["leads"][0]["zero_crossings"] == 2


def test_missing_token_is_401_with_a_json_message(stack: Stack):
    reply = stack.call("GET", "/ecgs")
    assert reply.status == 401
    assert reply.headers["content-type"].startswith("application/json")
    assert reply.json == {"message": "Unauthorized", "code": "unauthorized"}


def test_parallel_creates_of_one_username_give_exactly_one_201(stack: Stack):
    admin = stack.login(*ADMIN)
    body = {"username": "racer", "password": "racer-password"}
    with ThreadPoolExecutor(max_workers=6) as pool:
        statuses = list(pool.map(lambda _: stack.call("POST", "/users", admin, body).status, range(6)))
    assert sorted(statuses) == [201] + [409] * 5


def test_parallel_creates_of_one_ecg_id_give_exactly_one_201(stack: Stack):
    admin = stack.login(*ADMIN)
    stack.call("POST", "/users", admin, {"username": "ecg-racer", "password": "racer-password"})
    token = stack.login("ecg-racer", "racer-password")
    raw = json.dumps(
        {"id": "same", "date": "2026-11-27T10:00:00Z", "leads": [{"name": "I", "signal": [1, 2]}]}
    )
    with ThreadPoolExecutor(max_workers=6) as pool:
        statuses = list(
            pool.map(lambda _: stack.call("POST", "/ecgs", token, raw=raw.encode()).status, range(6))
        )
    assert sorted(statuses) == [201] + [409] * 5


def test_parallel_deletes_give_one_204_and_no_server_error(stack: Stack):
    admin = stack.login(*ADMIN)
    stack.call("POST", "/users", admin, {"username": "deleter", "password": "deleter-password"})
    token = stack.login("deleter", "deleter-password")
    body = {"id": "doomed", "date": "2026-11-27T10:00:00Z", "leads": [{"name": "I", "signal": [1]}]}
    stack.call("POST", "/ecgs", token, body)
    with ThreadPoolExecutor(max_workers=6) as pool:
        statuses = list(pool.map(lambda _: stack.call("DELETE", "/ecgs/doomed", token).status, range(6)))
    assert statuses.count(204) == 1
    assert set(statuses) <= {204, 404}


def test_sigterm_stops_the_stack_and_its_database(tmp_path):
    from devtools.local_stack import free_port

    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "devtools.local_stack"],
        env={
            "PATH": "",
            "PORT": str(port),
            "ECG_BCRYPT_ROUNDS": FAST_BCRYPT_ROUNDS,
            "PYTHONUNBUFFERED": "1",
            "PYTHONPATH": ".",
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    lines = []
    for line in process.stdout:
        lines.append(line)
        if "ready" in line:
            break
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=20) == 0
    assert any("change-me-now" in line for line in lines), "the default admin credentials are printed"
