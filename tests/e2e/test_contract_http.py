"""API.md's rules that a client meets over HTTP against `make run`: login throttling, headers on
every answer (the Client checks those on each call), dates, ids, and the rhythm of a real record."""

from __future__ import annotations

import json

import pytest

from bench.rhythm import load, match
from tests.e2e.conftest import ADMIN, Stack

PASSWORD = "contract-password"


def new_user(stack: Stack, name: str) -> str:
    admin = stack.login(*ADMIN)
    assert stack.call("POST", "/users", admin, {"username": name, "password": PASSWORD}).status == 201
    return stack.login(name, PASSWORD)


def test_five_failed_logins_lock_the_username_with_retry_after(stack: Stack):
    new_user(stack, "locked-out")
    wrong = {"username": "locked-out", "password": "not-the-password"}
    assert [stack.call("POST", "/auth/token", body=wrong).status for _ in range(5)] == [401] * 5
    reply = stack.call("POST", "/auth/token", body={"username": "locked-out", "password": PASSWORD})
    assert reply.status == 429 and 800 < int(reply.headers["retry-after"]) <= 900


def test_the_gateways_own_answers_carry_the_security_headers_too(stack: Stack):
    assert stack.call("GET", "/no-such-route").status == 404
    assert stack.call("GET", "/ecgs").status == 401


@pytest.mark.parametrize(
    ("case", "date"), [(1, "2026-11-27 10:00:00Z"), (2, "2026-11-27T10:00Z"), (3, "20261127T100000Z")]
)
def test_dates_that_are_not_rfc_3339_are_400(stack: Stack, case: int, date: str):
    token = new_user(stack, f"dates-{case}")
    body = {"date": date, "leads": [{"name": "I", "signal": [1]}]}
    assert stack.call("POST", "/ecgs", token, body).status == 400


@pytest.mark.parametrize("ecg_id", [".", ".."])
def test_ids_of_dots_only_are_400(stack: Stack, ecg_id: str):
    token = new_user(stack, f"dots-{len(ecg_id)}")
    body = {"id": ecg_id, "date": "2026-11-27T10:00:00Z", "leads": [{"name": "I", "signal": [1]}]}
    assert stack.call("POST", "/ecgs", token, body).status == 400


def test_a_real_30_minute_record_posted_as_json_comes_back_with_its_annotated_beats(stack: Stack):
    token = new_user(stack, "holter-fan")
    record = load("mitdb_200")
    body = {
        "id": "mitdb-200",
        "date": "2026-11-27T10:00:00Z",
        "sampling_rate_hz": record.fs,
        "leads": [{"name": "MLII", "signal": record.raw.astype(int).tolist()}],
    }
    assert stack.call("POST", "/ecgs", token, raw=json.dumps(body).encode()).status == 201
    beats = stack.call("GET", "/ecgs/mitdb-200/beats?lead=MLII", token).json["beats"]
    assert match(record.beats, beats, record.fs).f1 >= 99.5
    (lead,) = stack.call("GET", "/ecgs/mitdb-200/insights", token).json["leads"]
    assert lead["beats"] == len(beats) and lead["heart_rate_bpm"] == pytest.approx(86.4, abs=0.5)
