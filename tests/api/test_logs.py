"""One JSON log line per request, and nothing secret or clinical in any log line."""

from __future__ import annotations

import json
import logging

import pytest

from tests.helpers import Api

SIGNAL = [987654321, -987654321, 123456789]
PASSWORD = "a-very-secret-password"


def test_each_request_logs_one_json_line_with_its_fields(api: Api, caplog: pytest.LogCaptureFixture):
    token = api.user_token("alice")
    caplog.clear()
    with caplog.at_level(logging.INFO):
        api.call("GET", "/users/me", token)
    lines = [
        json.loads(record.getMessage()) for record in caplog.records if record.name == "ecg_insights.requests"
    ]
    assert len(lines) == 1
    assert lines[0]["route"] == "/users/me" and lines[0]["status"] == 200 and lines[0]["principal"] == "alice"
    assert {"request_id", "method", "latency_ms", "level"} <= set(lines[0])


def test_no_log_line_contains_a_password_a_token_or_signal_data(
    api: Api, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
):
    with caplog.at_level(logging.DEBUG):
        api.create_user("alice", PASSWORD)
        token = api.login("alice", PASSWORD)
        api.call("POST", "/auth/token", body={"username": "alice", "password": PASSWORD + "-wrong"})
        body = {
            "id": "secret-ecg",
            "date": "2026-11-27T10:00:00Z",
            "leads": [{"name": "I", "signal": SIGNAL}],
        }
        api.call("POST", "/ecgs", token, body)
        api.call("GET", "/ecgs/secret-ecg", token)
        api.call("POST", "/ecgs", token, {**body, "leads": [{"name": "I", "signal": [*SIGNAL, 1.5]}]})
        api.call(
            "PUT", "/users/me/password", token, {"current_password": PASSWORD, "new_password": PASSWORD + "2"}
        )
    captured = capsys.readouterr()
    logged = "\n".join(record.getMessage() for record in caplog.records) + captured.out + captured.err
    assert logged
    for secret in (PASSWORD, token, token.split(".")[2], *map(str, SIGNAL)):
        assert secret not in logged
