"""Every upload rule of API.md, one case each."""

from __future__ import annotations

import json
from typing import Any

import pytest

from chalicelib.api.bodies import MAX_BODY_BYTES
from chalicelib.api.ecg_body import parse_ecg
from chalicelib.errors import BadRequest, PayloadTooLarge, UnsupportedMediaType

JSON = "application/json"


def body(**overrides: Any) -> dict[str, Any]:
    ecg = {"date": "2026-11-27T10:00:00Z", "leads": [{"name": "I", "signal": [1, 2, 3]}]}
    ecg.update(overrides)
    return ecg


def lead(**overrides: Any) -> dict[str, Any]:
    return {"name": "I", "signal": [1, 2, 3], **overrides}


def parse(value: Any) -> Any:
    return parse_ecg(json.dumps(value).encode(), JSON)


def test_a_minimal_ecg_is_accepted():
    upload = parse(body())
    assert upload.ecg_id is None and upload.leads[0].signal.tolist() == [1, 2, 3]


@pytest.mark.parametrize(
    ("ecg", "named"),
    [
        (body(leads=[lead(signal=[1, 2.5])]), "signal[1]"),
        (body(leads=[lead(signal=[1, 3.0])]), "signal[1]"),
        (body(leads=[lead(signal=[True])]), "signal[0]"),
        (body(leads=[lead(signal=["2"])]), "signal[0]"),
        (body(leads=[lead(signal=[None])]), "signal[0]"),
        (body(leads=[lead(signal=[[1]])]), "signal[0]"),
        (body(leads=[lead(signal=[2**31])]), "signal[0]"),
        (body(leads=[lead(signal=[-(2**31) - 1])]), "signal[0]"),
        (body(leads=[lead(signal=[])]), "signal"),
        (body(leads=[]), "leads"),
        (body(leads=[lead(name=f"L{index}") for index in range(33)]), "leads"),
        (body(leads=[lead(name="")]), "name"),
        (body(leads=[lead(name="x" * 33)]), "name"),
        (body(leads=[lead(), lead()]), "name"),
        (body(leads=[lead(number_of_samples=4)]), "number_of_samples"),
        (body(leads=[lead(number_of_samples="3")]), "number_of_samples"),
        (body(leads=[lead(number_of_samples=3.0)]), "number_of_samples"),
        (body(date="yesterday"), "date"),
        (body(date="2026-11-27"), "date"),
        (body(date=20261127), "date"),
        (body(id=""), "id"),
        (body(id="has space"), "id"),
        (body(id="x" * 129), "id"),
        (body(id="."), "id"),
        (body(id=".."), "id"),
        (body(id="slash/id"), "id"),
        (body(owner="mallory"), "owner"),
        (body(leads=[lead(gain=2)]), "gain"),
        ({"leads": [lead()]}, "date"),
        ({"date": "2026-11-27T10:00:00Z"}, "leads"),
        ([1, 2], "object"),
    ],
)
def test_rule_breaking_bodies_are_rejected_naming_the_field(ecg: Any, named: str):
    with pytest.raises(BadRequest) as error:
        parse(ecg)
    assert named in error.value.message


def test_exponent_numbers_are_not_integers():
    raw = b'{"date": "2026-11-27T10:00:00Z", "leads": [{"name": "I", "signal": [1e3]}]}'
    with pytest.raises(BadRequest):
        parse_ecg(raw, JSON)


def test_malformed_json_is_a_bad_request():
    with pytest.raises(BadRequest):
        parse_ecg(b'{"date": ', JSON)


def test_body_over_6_000_000_bytes_is_too_large():
    with pytest.raises(PayloadTooLarge):
        parse_ecg(b" " * (MAX_BODY_BYTES + 1), JSON)


def test_body_that_is_not_json_is_unsupported():
    with pytest.raises(UnsupportedMediaType):
        parse_ecg(b"date=now", "text/plain")


@pytest.mark.parametrize(
    "date",
    ["2026-11-27T10:00:00Z", "2026-11-27T10:00:00.250+02:00", "2026-11-27t10:00:00z", "2016-12-31T23:59:60Z"],
)
def test_rfc_3339_date_times_are_accepted_as_uploaded(date: str):
    assert parse(body(date=date)).date == date


def test_a_date_without_an_offset_is_utc_and_returned_with_z():
    assert parse(body(date="2026-11-27T10:00:00.5")).date == "2026-11-27T10:00:00.5Z"


@pytest.mark.parametrize(
    "date",
    [
        "2026-11-27 10:00:00Z",
        "2026-11-27T10:00Z",
        "20261127T100000Z",
        "2026-W48-5T10:00:00Z",
        "2026-11-27T10:00:00+0100",
        "2026-11-27T10:00:00,5Z",
        "2026-13-27T10:00:00Z",
        "2026-02-30T10:00:00Z",
    ],
)
def test_iso_8601_forms_that_are_not_rfc_3339_are_rejected(date: str):
    with pytest.raises(BadRequest):
        parse(body(date=date))


@pytest.mark.parametrize("ecg_id", ["a", "x" * 128, "visit:2026-11-27_v1.0"])
def test_valid_ids_are_accepted(ecg_id: str):
    assert parse(body(id=ecg_id)).ecg_id == ecg_id


def test_matching_number_of_samples_is_accepted():
    assert parse(body(leads=[lead(number_of_samples=3)])).leads[0].signal.size == 3


def test_int32_extremes_are_accepted():
    signal = [-(2**31), 2**31 - 1]
    assert parse(body(leads=[lead(signal=signal)])).leads[0].signal.tolist() == signal


@pytest.mark.parametrize(
    "date",
    ["2026-11-27T10:00:00\x00Z", "2026-11-27T10:00:00Z" + " " * 60, "\uff12\uff10\uff12\uff16-11-27T10:00"],
)
def test_dates_with_control_or_non_ascii_characters_are_rejected(date: str):
    with pytest.raises(BadRequest):
        parse(body(date=date))


def test_lead_names_with_control_characters_are_rejected():
    with pytest.raises(BadRequest):
        parse(body(leads=[lead(name="I\x00")]))
