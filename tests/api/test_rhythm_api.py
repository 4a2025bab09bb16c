"""Rhythm over the API: the sampling rate, the rhythm insights and GET /ecgs/{id}/beats."""

from __future__ import annotations

from typing import Any

import pytest

from bench.rhythm import heart_rate, load, match
from tests.helpers import Api

DATE = "2026-11-27T10:00:00Z"


@pytest.fixture
def alice(api: Api) -> str:
    return api.user_token("alice")


def upload(api: Api, token: str, ecg_id: str, leads: list[dict[str, Any]], **extra: Any) -> Any:
    reply = api.call("POST", "/ecgs", token, {"id": ecg_id, "date": DATE, "leads": leads, **extra})
    assert reply.status == 201, reply.json
    return reply.json


@pytest.fixture(scope="module")
def mitdb_100() -> Any:
    return load("mitdb_100")


def test_a_real_30_minute_record_comes_back_with_the_annotated_beats(api: Api, alice: str, mitdb_100: Any):
    signal = mitdb_100.raw.astype(int).tolist()
    summary = upload(api, alice, "mitdb-100", [{"name": "MLII", "signal": signal}], sampling_rate_hz=360)
    assert summary["sampling_rate_hz"] == 360
    beats = api.call("GET", "/ecgs/mitdb-100/beats?lead=MLII", alice).json
    assert beats["sampling_rate_hz"] == 360
    assert match(mitdb_100.beats, beats["beats"], mitdb_100.fs).f1 >= 99.5
    (lead,) = api.call("GET", "/ecgs/mitdb-100/insights", alice).json["leads"]
    assert lead["beats"] == len(beats["beats"])
    assert lead["heart_rate_bpm"] == pytest.approx(heart_rate(mitdb_100.beats, mitdb_100.fs), abs=0.5)
    assert lead["rr_mean_ms"] * lead["heart_rate_bpm"] == pytest.approx(60_000, rel=1e-3)
    assert lead["rr_sdnn_ms"] > 0 and lead["rr_rmssd_ms"] > 0


def test_beats_window_is_start_inclusive_and_end_exclusive(api: Api, alice: str, mitdb_100: Any):
    signal = mitdb_100.raw[: 360 * 20].astype(int).tolist()
    upload(api, alice, "short", [{"name": "MLII", "signal": signal}], sampling_rate_hz=360)
    every = api.call("GET", "/ecgs/short/beats?lead=MLII", alice).json["beats"]
    start, end = every[2], every[5]
    window = api.call("GET", f"/ecgs/short/beats?lead=MLII&start={start}&end={end}", alice).json["beats"]
    assert window == every[2:5]


def test_rhythm_is_null_without_a_sampling_rate(api: Api, alice: str):
    upload(api, alice, "no-rate", [{"name": "I", "signal": [1, 5, 300, 2, -1] * 50}])
    (lead,) = api.call("GET", "/ecgs/no-rate/insights", alice).json["leads"]
    assert [
        lead[name] for name in ("beats", "heart_rate_bpm", "rr_mean_ms", "rr_sdnn_ms", "rr_rmssd_ms")
    ] == [None] * 5
    reply = api.call("GET", "/ecgs/no-rate/beats?lead=I", alice).json
    assert reply["beats"] is None and reply["sampling_rate_hz"] is None


def test_a_fractional_sampling_rate_is_echoed_as_sent(api: Api, alice: str):
    assert (
        upload(api, alice, "odd", [{"name": "I", "signal": [1]}], sampling_rate_hz=256.5)["sampling_rate_hz"]
        == 256.5
    )


@pytest.mark.parametrize("rate", [0, 0.5, 20_001, "500", True, None, [500]])
def test_a_sampling_rate_outside_1_to_20000_or_not_a_number_is_400(api: Api, alice: str, rate: Any):
    body = {"date": DATE, "sampling_rate_hz": rate, "leads": [{"name": "I", "signal": [1]}]}
    reply = api.call("POST", "/ecgs", alice, body)
    assert reply.status == 400 and "sampling_rate_hz" in reply.json["message"]


def test_a_window_ending_before_it_starts_is_empty(api: Api, alice: str, mitdb_100: Any):
    signal = mitdb_100.raw[:3600].astype(int).tolist()
    upload(api, alice, "w", [{"name": "I", "signal": signal}], sampling_rate_hz=360)
    assert api.call("GET", "/ecgs/w/beats?lead=I&start=3000&end=10", alice).json["beats"] == []


def test_beats_of_an_unknown_lead_are_404(api: Api, alice: str):
    upload(api, alice, "one", [{"name": "I", "signal": [1]}], sampling_rate_hz=500)
    reply = api.call("GET", "/ecgs/one/beats?lead=II", alice)
    assert reply.status == 404 and reply.json["code"] == "lead_not_found"


@pytest.mark.parametrize(
    "query", ["", "?start=0", "?lead=I&start=-1", "?lead=I&start=%C2%B2", "?lead=I&end=x"]
)
def test_beats_without_a_lead_or_with_a_bad_window_are_400(api: Api, alice: str, query: str):
    upload(api, alice, "one", [{"name": "I", "signal": [1]}], sampling_rate_hz=500)
    assert api.call("GET", f"/ecgs/one/beats{query}", alice).status == 400


def test_beats_of_another_users_ecg_are_404(api: Api, alice: str):
    upload(api, alice, "mine", [{"name": "I", "signal": [1]}], sampling_rate_hz=500)
    bob = api.user_token("bob")
    assert api.call("GET", "/ecgs/mine/beats?lead=I", bob).status == 404


def test_a_signal_window_is_count_samples_from_start_cut_short_at_the_end(api: Api, alice: str):
    signal = list(range(-50, 50))
    upload(
        api,
        alice,
        "win",
        [{"name": "I", "signal": [0]}, {"name": "II", "signal": signal}],
        sampling_rate_hz=250,
    )
    window = api.call("GET", "/ecgs/win/signal?lead=II&start=10&count=5", alice).json
    assert window == {
        "id": "win",
        "lead": "II",
        "sampling_rate_hz": 250,
        "start": 10,
        "signal": signal[10:15],
    }
    tail = api.call("GET", "/ecgs/win/signal?lead=II&start=95&count=500000", alice).json
    assert tail["signal"] == signal[95:]
    assert api.call("GET", "/ecgs/win/signal?lead=II", alice).json["signal"] == signal


@pytest.mark.parametrize(
    "query", ["?lead=II&start=100", "?lead=II&count=0", "?lead=II&count=500001", "?start=0"]
)
def test_a_signal_window_outside_the_lead_or_the_limits_is_400(api: Api, alice: str, query: str):
    upload(api, alice, "win", [{"name": "II", "signal": list(range(100))}])
    assert api.call("GET", f"/ecgs/win/signal{query}", alice).status == 400


def test_a_signal_window_of_an_unknown_lead_is_404(api: Api, alice: str):
    upload(api, alice, "win", [{"name": "II", "signal": [1]}])
    assert api.call("GET", "/ecgs/win/signal?lead=V1", alice).json["code"] == "lead_not_found"


def test_an_ecg_of_more_than_2_000_000_samples_comes_back_without_signals(
    api: Api, alice: str, monkeypatch: pytest.MonkeyPatch
):
    from chalicelib.ecg import service

    monkeypatch.setattr(service, "MAX_SAMPLES_IN_ONE_READ", 5)
    upload(api, alice, "long", [{"name": "I", "signal": [1, 2, 3]}, {"name": "II", "signal": [4, 5, 6]}])
    leads = api.call("GET", "/ecgs/long", alice).json["leads"]
    assert leads == [{"name": "I", "number_of_samples": 3}, {"name": "II", "number_of_samples": 3}]
    assert api.call("GET", "/ecgs/long/signal?lead=II", alice).json["signal"] == [4, 5, 6]
