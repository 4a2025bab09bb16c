"""`make run` as a client sees it: over HTTP, with concurrency the test client cannot show."""

from __future__ import annotations

import http.client
import json
import signal
import socket
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from pathlib import Path

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


def children(pid: int) -> list[int]:
    """The processes whose parent is `pid` (Linux: from /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with suppress(OSError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) == pid:
                found.append(int(stat.parent.name))
    return found


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
    database = children(process.pid)
    assert database, "the embedded DynamoDB runs in a child process"
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=20) == 0
    assert not [pid for pid in database if Path(f"/proc/{pid}").exists()], "the database stopped too"
    assert any("change-me-now" in line for line in lines), "the default admin credentials are printed"


def test_a_kept_alive_connection_answers_every_request_correctly(stack: Stack):
    """One connection for many requests, as requests.Session, browsers and mobile SDKs use it:
    every answer whole and right, errors included, and the connection is never dropped."""
    admin = stack.login(*ADMIN)
    stack.call("POST", "/users", admin, {"username": "keeper", "password": "keeper-password"})
    token = stack.login("keeper", "keeper-password")
    connection = http.client.HTTPConnection(stack.base_url.removeprefix("http://"), timeout=60)
    auth = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    def call(
        method: str, path: str, body: object = None, headers: dict[str, str] = auth
    ) -> tuple[int, object]:
        raw = None if body is None else json.dumps(body).encode()
        connection.request(method, path, body=raw, headers=headers)
        response = connection.getresponse()
        payload = response.read()
        assert not response.will_close
        return response.status, json.loads(payload) if payload else None

    call("GET", "/users/me")
    sock = connection.sock
    for index in range(15):
        signal_ = [index, -index, index * 2, 0, 1]
        body = {
            "id": f"kept-{index}",
            "date": "2026-11-27T10:00:00Z",
            "leads": [{"name": "I", "signal": signal_}],
        }
        assert call("POST", "/ecgs", body)[0] == 201
        assert call("POST", "/ecgs", body)[0] == 409
        status, ecg = call("GET", f"/ecgs/kept-{index}")
        assert status == 200 and ecg["leads"][0]["signal"] == signal_  # type: ignore[index]
        status, insights = call("GET", f"/ecgs/kept-{index}/insights")
        assert status == 200 and insights["leads"][0]["name"] == "I"  # type: ignore[index]
        assert call("GET", f"/ecgs/absent-{index}")[0] == 404
        assert call("GET", "/ecgs", headers={})[0] == 401
        assert call("PATCH", f"/ecgs/kept-{index}")[0] == 405
        assert call("GET", "/no/such/route")[0] == 404
    status, listing = call("GET", "/ecgs?limit=50")
    assert status == 200 and len(listing["items"]) == 15  # type: ignore[index]
    assert connection.sock is sock, "the server kept the connection open throughout"
    connection.close()


def test_expect_100_continue_is_answered_before_the_body(stack: Stack):
    """curl sends `Expect: 100-continue` with large bodies and waits for the interim answer."""
    body = b'{"username":"nobody","password":"wrong-password"}'
    host, port = stack.base_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as client:
        client.sendall(
            b"POST /auth/token HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            + f"Content-Length: {len(body)}\r\nExpect: 100-continue\r\n\r\n".encode()
        )
        assert client.recv(1024).startswith(b"HTTP/1.1 100 Continue\r\n\r\n")
        client.sendall(body)
        answer = b""
        while b"\r\n\r\n" not in answer:
            answer += client.recv(65536)
        assert answer.startswith(b"HTTP/1.1 401 ")


def test_concurrent_kept_alive_clients_create_each_id_exactly_once(stack: Stack):
    admin = stack.login(*ADMIN)
    stack.call("POST", "/users", admin, {"username": "crowd", "password": "crowd-password"})
    token = stack.login("crowd", "crowd-password")
    ids = [f"crowd-{index}" for index in range(8)]

    def client(offset: int) -> list[tuple[str, int]]:
        connection = http.client.HTTPConnection(stack.base_url.removeprefix("http://"), timeout=60)
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        outcomes = []
        for ecg_id in ids[offset:] + ids[:offset]:
            body = {
                "id": ecg_id,
                "date": "2026-11-27T10:00:00Z",
                "leads": [{"name": "I", "signal": [1, 2, 3]}],
            }
            connection.request("POST", "/ecgs", body=json.dumps(body).encode(), headers=headers)
            response = connection.getresponse()
            response.read()
            outcomes.append((ecg_id, response.status))
        connection.close()
        return outcomes

    with ThreadPoolExecutor(max_workers=4) as pool:
        outcomes = [outcome for result in pool.map(client, [0, 2, 4, 6]) for outcome in result]
    for ecg_id in ids:
        assert sorted(status for seen, status in outcomes if seen == ecg_id) == [201, 409, 409, 409]
    listing = stack.call("GET", "/ecgs?limit=50", token).json
    assert sorted(item["id"] for item in listing["items"]) == sorted(ids)
