"""POST/GET/DELETE /ecgs and GET /ecgs/{id}/insights over the Chalice test client."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pytest

from chalicelib.api.bodies import MAX_BODY_BYTES
from chalicelib.api.ecg_body import parse_ecg
from chalicelib.ecg import insights
from chalicelib.errors import Conflict
from chalicelib.store.models import EcgItem
from tests.helpers import Api, lasting_objects, stored_objects


def ecg(ecg_id: str | None = "ecg-1", **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "date": "2026-11-27T10:00:00Z",
        "leads": [
            {"name": "I", "number_of_samples": 4, "signal": [12, -3, 0, 7]},
            {"name": "II", "signal": [4, 9, -1, -6]},
        ],
    }
    if ecg_id is not None:
        body["id"] = ecg_id
    body.update(overrides)
    return body


def twelve_lead_ecg(samples: int = 5000, seed: int = 7) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    names = ["I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6"]
    time = np.arange(samples) / 500
    leads = []
    for index, name in enumerate(names):
        wave = 300 * np.sin(2 * np.pi * 1.2 * time + index) + rng.normal(0, 5, samples)
        leads.append({"name": name, "signal": np.round(wave).astype(int).tolist()})
    return {"id": "twelve-lead", "date": "2026-11-27T10:00:00Z", "leads": leads}


@pytest.fixture
def alice(api: Api) -> str:
    return api.user_token("alice")


@pytest.fixture
def bob(api: Api) -> str:
    return api.user_token("bob")


def test_user_can_upload_an_ecg(api: Api, alice: str):
    reply = api.call("POST", "/ecgs", alice, ecg())
    assert reply.status == 201
    assert reply.headers["location"] == "/ecgs/ecg-1"
    assert reply.json["id"] == "ecg-1"
    assert reply.json["date"] == "2026-11-27T10:00:00Z"
    assert reply.json["created_at"]
    assert reply.json["leads"] == [
        {"name": "I", "number_of_samples": 4},
        {"name": "II", "number_of_samples": 4},
    ]


def test_server_assigns_a_uuid_when_no_id_is_given(api: Api, alice: str):
    reply = api.call("POST", "/ecgs", alice, ecg(None))
    assert len(reply.json["id"]) == 36 and reply.json["id"].count("-") == 4
    assert api.call("GET", reply.headers["location"], alice).status == 200


def test_ecg_comes_back_as_uploaded(api: Api, alice: str):
    api.call("POST", "/ecgs", alice, ecg())
    reply = api.call("GET", "/ecgs/ecg-1", alice)
    assert reply.status == 200
    assert [lead["signal"] for lead in reply.json["leads"]] == [[12, -3, 0, 7], [4, 9, -1, -6]]
    assert [lead["number_of_samples"] for lead in reply.json["leads"]] == [4, 4]
    assert reply.json["date"] == "2026-11-27T10:00:00Z"


def test_insights_follow_the_contract_in_upload_order(api: Api, alice: str):
    body = ecg(leads=[{"name": "Z", "signal": [-1, 0, 0, 2, 3, -4]}, {"name": "A", "signal": [1, 0, 1]}])
    api.call("POST", "/ecgs", alice, body)
    reply = api.call("GET", "/ecgs/ecg-1/insights", alice)
    no_rhythm = dict.fromkeys(insights.RHYTHM_FIELDS)
    assert reply.json == {
        "id": "ecg-1",
        "leads": [
            {"name": "Z", "number_of_samples": 6, "zero_crossings": 2, **no_rhythm},
            {"name": "A", "number_of_samples": 3, "zero_crossings": 0, **no_rhythm},
        ],
    }


def test_int32_extremes_round_trip_exactly(api: Api, alice: str):
    signal = [-(2**31), 2**31 - 1, 0, -(2**31), 2**31 - 1, -1, 1]
    api.call("POST", "/ecgs", alice, ecg(leads=[{"name": "I", "signal": signal}]))
    assert api.call("GET", "/ecgs/ecg-1", alice).json["leads"][0]["signal"] == signal
    assert api.call("GET", "/ecgs/ecg-1/insights", alice).json["leads"][0]["zero_crossings"] == 5


def test_twelve_lead_ecg_round_trips_byte_identical(api: Api, alice: str):
    body = twelve_lead_ecg()
    api.call("POST", "/ecgs", alice, body)
    returned = api.call("GET", "/ecgs/twelve-lead", alice).json
    assert [lead["signal"] for lead in returned["leads"]] == [lead["signal"] for lead in body["leads"]]


def test_multi_megabyte_ecg_spans_blocks_and_round_trips(api: Api, alice: str):
    rng = np.random.default_rng(3)
    signals = [rng.integers(-(2**31), 2**31 - 1, size=150_000).tolist() for _ in range(3)]
    body = {
        "id": "big",
        "date": "2026-11-27T10:00:00Z",
        "leads": [{"name": f"L{i}", "signal": s} for i, s in enumerate(signals)],
    }
    raw = json.dumps(body).encode()
    assert 5_000_000 < len(raw) <= MAX_BODY_BYTES
    assert api.call("POST", "/ecgs", alice, raw=raw).status == 201
    returned = api.call("GET", "/ecgs/big", alice).json
    assert [lead["signal"] for lead in returned["leads"]] == signals
    counts = [lead["zero_crossings"] for lead in api.call("GET", "/ecgs/big/insights", alice).json["leads"]]
    assert counts == [insights.zero_crossings(np.array(s, dtype=np.int32)) for s in signals]


def test_body_over_the_limit_is_413(api: Api, alice: str):
    assert api.call("POST", "/ecgs", alice, raw=b" " * (MAX_BODY_BYTES + 1)).status == 413


def test_body_at_the_limit_is_accepted(api: Api, alice: str):
    raw = json.dumps(ecg()).encode()
    padded = raw + b" " * (MAX_BODY_BYTES - len(raw))
    assert api.call("POST", "/ecgs", alice, raw=padded).status == 201


def test_invalid_upload_is_400_and_stores_nothing(api: Api, alice: str):
    body = ecg(leads=[{"name": "I", "signal": [1, 2]}, {"name": "II", "signal": [1, 2.5]}])
    reply = api.call("POST", "/ecgs", alice, body)
    assert reply.status == 400
    assert "leads[1].signal[1]" in reply.json["message"]
    assert api.call("GET", "/ecgs/ecg-1", alice).status == 404


def test_malformed_json_is_400(api: Api, alice: str):
    assert api.call("POST", "/ecgs", alice, raw=b'{"id": "x", ').status == 400


def test_non_json_content_type_is_415(api: Api, alice: str):
    reply = api.call(
        "POST", "/ecgs", alice, raw=json.dumps(ecg()).encode(), headers={"Content-Type": "text/csv"}
    )
    assert reply.status == 415


def test_duplicate_id_is_409_and_leaves_the_stored_ecg_untouched(api: Api, alice: str):
    api.call("POST", "/ecgs", alice, ecg())
    before = api.call("GET", "/ecgs/ecg-1", alice).raw
    replacement = ecg(leads=[{"name": "other", "signal": [9, 9, 9]}])
    assert api.call("POST", "/ecgs", alice, replacement).status == 409
    assert api.call("GET", "/ecgs/ecg-1", alice).raw == before


def test_ids_are_scoped_per_user(api: Api, alice: str, bob: str):
    assert api.call("POST", "/ecgs", alice, ecg()).status == 201
    assert api.call("POST", "/ecgs", bob, ecg(leads=[{"name": "B", "signal": [5]}])).status == 201
    assert api.call("GET", "/ecgs/ecg-1", alice).json["leads"][0]["name"] == "I"
    assert api.call("GET", "/ecgs/ecg-1", bob).json["leads"][0]["name"] == "B"


@pytest.mark.parametrize(("method", "suffix"), [("GET", ""), ("GET", "/insights"), ("DELETE", "")])
def test_another_users_ecg_is_not_found(api: Api, alice: str, bob: str, method: str, suffix: str):
    api.call("POST", "/ecgs", alice, ecg())
    reply = api.call(method, f"/ecgs/ecg-1{suffix}", bob)
    assert reply.status == 404
    assert b"alice" not in reply.raw and b"12" not in reply.raw
    assert api.call("GET", "/ecgs/ecg-1", alice).status == 200


def test_list_shows_only_own_ecgs(api: Api, alice: str, bob: str):
    api.call("POST", "/ecgs", alice, ecg("a-1"))
    api.call("POST", "/ecgs", bob, ecg("b-1"))
    assert [item["id"] for item in api.call("GET", "/ecgs", bob).json["items"]] == ["b-1"]


def test_list_items_are_summaries(api: Api, alice: str):
    api.call("POST", "/ecgs", alice, ecg())
    item = api.call("GET", "/ecgs", alice).json["items"][0]
    assert set(item) == {"id", "date", "created_at", "status", "sampling_rate_hz", "leads"}
    assert item["leads"][0] == {"name": "I", "number_of_samples": 4}


def test_list_pages_through_every_ecg_once(api: Api, alice: str):
    for index in range(7):
        api.call("POST", "/ecgs", alice, ecg(f"ecg-{index}"))
    seen, token = [], None
    while True:
        reply = api.call("GET", "/ecgs?limit=3" + (f"&next_token={token}" if token else ""), alice)
        seen += [item["id"] for item in reply.json["items"]]
        token = reply.json["next_token"]
        if token is None:
            break
    assert seen == [f"ecg-{index}" for index in range(7)]


@pytest.mark.parametrize(
    "query", ["limit=0", "limit=101", "limit=1.5", "next_token=%%%", "next_token=eyJrIjoiYSBiIn0"]
)
def test_bad_list_parameters_are_400(api: Api, alice: str, query: str):
    assert api.call("GET", f"/ecgs?{query}", alice).status == 400


def test_an_ecg_is_one_committed_object(api: Api, alice: str):
    api.call("POST", "/ecgs", alice, ecg())
    assert lasting_objects("alice") == list(stored_objects("alice"))
    assert len(lasting_objects("alice")) == 1


def test_delete_removes_the_ecg_and_its_object(api: Api, alice: str):
    rng = np.random.default_rng(5)
    body = ecg(leads=[{"name": "I", "signal": rng.integers(-(2**31), 2**31 - 1, 200_000).tolist()}])
    api.call("POST", "/ecgs", alice, body)
    assert api.call("DELETE", "/ecgs/ecg-1", alice).status == 204
    assert api.call("GET", "/ecgs/ecg-1", alice).status == 404
    assert stored_objects("alice") == {}
    assert api.call("DELETE", "/ecgs/ecg-1", alice).status == 404


def test_insights_of_an_older_calculator_version_are_recomputed_once_and_saved(
    api: Api, alice: str, monkeypatch
):
    api.call("POST", "/ecgs", alice, ecg())
    leads_read = []
    counted = insights.CALCULATORS["zero_crossings"]

    def counting(rate: float | None) -> insights.Accumulator:
        leads_read.append(rate)
        return counted.accumulator(rate)

    monkeypatch.setitem(
        insights.CALCULATORS,
        "zero_crossings",
        insights.Calculator(counted.version + 1, counted.compute, counting),
    )
    first = api.call("GET", "/ecgs/ecg-1/insights", alice).json
    second = api.call("GET", "/ecgs/ecg-1/insights", alice).json
    assert [lead["zero_crossings"] for lead in first["leads"]] == [2, 1]
    assert first == second
    assert len(leads_read) == 2  # each lead once, on the first read only
    stored = EcgItem.get("alice", "ecg-1").leads[0].insight_versions.as_dict()
    assert stored["zero_crossings"] == counted.version + 1


def test_reading_stored_insights_decodes_no_signal(api: Api, alice: str, monkeypatch):
    api.call("POST", "/ecgs", alice, ecg())

    def fail(*args: Any) -> None:
        raise AssertionError("signals were decoded")

    monkeypatch.setattr("chalicelib.ecg.codec.decode_signals", fail)
    monkeypatch.setattr("chalicelib.store.signals.read", fail)
    assert api.call("GET", "/ecgs/ecg-1/insights", alice).status == 200


def test_concurrent_creates_of_the_same_id_store_exactly_one(api: Api, alice: str):
    from chalicelib.ecg import service

    upload = parse_ecg(json.dumps(ecg()).encode(), "application/json")

    def create(_: int) -> str:
        try:
            service.create("alice", upload)
            return "created"
        except Conflict:
            return "conflict"

    with ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = list(pool.map(create, range(8)))
    assert outcomes.count("created") == 1
    assert outcomes.count("conflict") == 7


@pytest.mark.parametrize("ecg_id", ["x" * 2000, "has%20space", "%ZZ"])
def test_ids_no_upload_could_have_are_not_found(api: Api, alice: str, ecg_id: str):
    assert api.call("GET", f"/ecgs/{ecg_id}", alice).status == 404
    assert api.call("DELETE", f"/ecgs/{ecg_id}", alice).status == 404
    assert api.call("GET", f"/ecgs/{ecg_id}/insights", alice).status == 404


def test_body_without_a_content_type_is_read_as_json(api: Api, alice: str):
    reply = api.call("POST", "/ecgs", alice, raw=json.dumps(ecg()).encode(), headers={"Content-Type": ""})
    assert reply.status == 201


def test_a_newer_calculator_reads_a_lead_back_window_by_window_to_the_same_values(
    api: Api, alice: str, monkeypatch
):
    from chalicelib.ecg import service

    rng = np.random.default_rng(9)
    body = ecg(leads=[{"name": "I", "signal": rng.integers(-500, 500, 20_000).tolist()}])
    api.call("POST", "/ecgs", alice, {**body, "sampling_rate_hz": 250})
    before = api.call("GET", "/ecgs/ecg-1/insights", alice).json
    rhythm = insights.CALCULATORS["rhythm"]
    monkeypatch.setitem(
        insights.CALCULATORS,
        "rhythm",
        insights.Calculator(rhythm.version + 1, rhythm.compute, rhythm.accumulator),
    )
    monkeypatch.setattr(service, "STREAM_SAMPLES", 1_000)
    monkeypatch.setattr("chalicelib.store.signals.read", lambda key: pytest.fail("the whole object was read"))
    assert api.call("GET", "/ecgs/ecg-1/insights", alice).json == before
