"""The JSON upload format: every rule of POST /ecgs that applies to a file, one case each."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from chalicelib.ecg.formats import json_file
from chalicelib.ecg.formats.json_file import read_json_file
from chalicelib.ecg.formats.recording import Recording, UnreadableFile

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1


def ecg(**overrides: Any) -> dict[str, Any]:
    return {"leads": [{"name": "I", "signal": [1, 2, 3]}], **overrides}


def lead(**overrides: Any) -> dict[str, Any]:
    return {"name": "I", "signal": [1, 2, 3], **overrides}


def leads(recording: Recording) -> list[list[int]]:
    """Each lead's samples, the chunks joined."""
    parts: list[list[int]] = [[] for _ in recording.header.lead_names]
    for index, chunk in recording.chunks:
        assert chunk.dtype == np.int32
        parts[index].extend(chunk.tolist())
    return parts


def read(value: Any) -> Recording:
    return read_json_file(value if isinstance(value, bytes) else json.dumps(value).encode())


def refusal(value: Any) -> str:
    """Why the file is refused, whether before its samples are read or while they are."""
    with pytest.raises(UnreadableFile) as error:
        leads(read(value))
    return str(error.value)


@pytest.fixture
def small_pieces() -> Iterator[None]:
    """Signals decoded a few bytes at a time, so every cut and offset is exercised."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(json_file, "PIECE_BYTES", 7)
        yield


def test_a_minimal_file_is_read():
    recording = read(ecg())
    assert recording.header.lead_names == ["I"]
    assert recording.header.sampling_rate_hz is None
    assert leads(recording) == [[1, 2, 3]]


def test_the_sampling_rate_is_read_as_a_float():
    assert read(ecg(sampling_rate_hz=250)).header.sampling_rate_hz == 250.0
    assert read(ecg(sampling_rate_hz=360.5)).header.sampling_rate_hz == 360.5


def test_leads_keep_their_order_and_names():
    recording = read(ecg(leads=[lead(name="V1", signal=[5]), lead(name="aVR", signal=[-7, 8])]))
    assert recording.header.lead_names == ["V1", "aVR"]
    assert leads(recording) == [[5], [-7, 8]]


def test_matching_number_of_samples_is_accepted():
    assert leads(read(ecg(leads=[lead(number_of_samples=3)]))) == [[1, 2, 3]]


def test_int32_extremes_are_accepted():
    assert leads(read(ecg(leads=[lead(signal=[INT32_MIN, INT32_MAX])]))) == [[INT32_MIN, INT32_MAX]]


def test_minus_zero_is_the_integer_zero():
    assert leads(read(b'{"leads": [{"name": "I", "signal": [-0, 0]}]}')) == [[0, 0]]


@pytest.mark.parametrize(
    ("file", "named"),
    [
        (ecg(leads=[lead(signal=[1, 2.5])]), "`$.leads[0].signal[1]`"),
        (ecg(leads=[lead(signal=[1, 3.0])]), "`$.leads[0].signal[1]`"),
        (ecg(leads=[lead(signal=[True])]), "`$.leads[0].signal[0]`"),
        (ecg(leads=[lead(signal=["2"])]), "`$.leads[0].signal[0]`"),
        (ecg(leads=[lead(signal=[None])]), "`$.leads[0].signal[0]`"),
        (ecg(leads=[lead(signal=[[1]])]), "`$.leads[0].signal[0]`"),
        (ecg(leads=[lead(signal=[{"a": 1}])]), "`$.leads[0].signal[0]`"),
        (ecg(leads=[lead(signal=[2**31])]), "`$.leads[0].signal[0]`"),
        (ecg(leads=[lead(signal=[-(2**31) - 1])]), "`$.leads[0].signal[0]`"),
        (ecg(leads=[lead(signal=[10**30])]), "`$.leads[0].signal[0]`"),
        (ecg(leads=[lead(), lead(name="II", signal=[1, 2, 3, 4.5])]), "`$.leads[1].signal[3]`"),
        (ecg(leads=[lead(signal=[])]), "`$.leads[0].signal`"),
        (ecg(leads=[lead(signal="1,2,3")]), "`$.leads[0].signal`"),
        (ecg(leads=[lead(signal=7)]), "`$.leads[0].signal`"),
        (ecg(leads=[lead(signal=None)]), "`$.leads[0].signal`"),
        (ecg(leads=[]), "`$.leads`"),
        (ecg(leads=[lead(name=f"L{index}") for index in range(33)]), "`$.leads`"),
        (ecg(leads="I"), "`$.leads`"),
        (ecg(leads=[lead(name="")]), "`$.leads[0].name`"),
        (ecg(leads=[lead(name="x" * 33)]), "`$.leads[0].name`"),
        (ecg(leads=[lead(name=7)]), "`$.leads[0].name`"),
        (ecg(leads=[lead(), lead()]), "`$.leads[1].name`"),
        (ecg(leads=[lead(name="I\x00")]), "`$.leads[0].name`"),
        (ecg(leads=[lead(number_of_samples=4)]), "`$.leads[0].number_of_samples`"),
        (ecg(leads=[lead(number_of_samples="3")]), "`$.leads[0].number_of_samples`"),
        (ecg(leads=[lead(number_of_samples=3.0)]), "`$.leads[0].number_of_samples`"),
        (ecg(sampling_rate_hz=0.5), "`$.sampling_rate_hz`"),
        (ecg(sampling_rate_hz=20_001), "`$.sampling_rate_hz`"),
        (ecg(sampling_rate_hz="250"), "`$.sampling_rate_hz`"),
        (ecg(sampling_rate_hz=None), "`$.sampling_rate_hz`"),
        (ecg(id="abc"), "`id`"),
        (ecg(date="2026-11-27T10:00:00Z"), "`date`"),
        (ecg(owner="mallory"), "`owner`"),
        (ecg(leads=[lead(gain=2)]), "`gain` - at `$.leads[0]`"),
        ({"sampling_rate_hz": 250}, "`leads`"),
        ({"leads": [{"signal": [1]}]}, "`name` - at `$.leads[0]`"),
        ({"leads": [{"name": "I"}]}, "`signal` - at `$.leads[0]`"),
        ([1, 2], "Expected `object`, got `array`"),
    ],
)
def test_rule_breaking_files_are_refused_naming_the_field(file: Any, named: str):
    assert named in refusal(file)


def test_unknown_fields_are_named_as_post_ecgs_names_them():
    assert refusal(ecg(leads=[lead(foo=1)])) == "Object contains unknown field `foo` - at `$.leads[0]`"


def test_a_value_that_is_not_an_integer_is_named_like_post_ecgs():
    assert (
        refusal(ecg(leads=[lead(signal=[1, 2.5])]))
        == "Expected `int`, got `float` - at `$.leads[0].signal[1]`"
    )


def test_a_repeated_lead_name_is_refused_naming_it():
    assert refusal(ecg(leads=[lead(), lead()])) == "lead name 'I' is repeated - at `$.leads[1].name`"


def test_a_wrong_number_of_samples_is_refused_after_that_lead_is_read():
    recording = read(ecg(leads=[lead(number_of_samples=4)]))
    chunks = iter(recording.chunks)
    assert next(chunks)[1].tolist() == [1, 2, 3]
    with pytest.raises(UnreadableFile) as error:
        next(chunks)
    assert (
        str(error.value)
        == "number_of_samples is 4 but the signal has 3 samples - at `$.leads[0].number_of_samples`"
    )


@pytest.mark.parametrize(
    "signal", [b"[1e3]", b"[1E3]", b"[1.0]", b"[true]", b"[false]", b'["1"]', b"[null]", b"[1, -2.0e0]"]
)
def test_numbers_with_a_fraction_or_exponent_and_other_values_are_not_integers(signal: bytes):
    reason = refusal(b'{"leads": [{"name": "I", "signal": ' + signal + b"}]}")
    assert reason.startswith("Expected `int`, got ") and "- at `$.leads[0].signal[" in reason


@pytest.mark.parametrize(
    "signal", [b"[01]", b"[+1]", b"[1.]", b"[.5]", b"[0x10]", b"[NaN]", b"[Infinity]", b"[- 1]"]
)
def test_numbers_json_does_not_allow_are_malformed_json(signal: bytes):
    assert refusal(b'{"leads": [{"name": "I", "signal": ' + signal + b"}]}").startswith(
        "the file is not valid JSON"
    )


@pytest.mark.parametrize(
    "text",
    [
        b'{"leads":[{"name":"I","signal":[1,-2,3]}]}',
        b'  {\n  "leads" : [ {\t"name" : "I" ,\r\n "signal" : [ 1 ,\n-2\t,3 ] } ]\n}\n  ',
        b'{"leads": [{"name": "I", "signal": [\n    1,\n    -2,\n    3\n]}]}',
    ],
)
def test_json_whitespace_anywhere_is_accepted(text: bytes):
    assert leads(read(text)) == [[1, -2, 3]]


def test_whitespace_json_does_not_allow_is_malformed():
    assert refusal(b'{"leads": [{"name": "I", "signal": [1,\x0b2]}]}').startswith(
        "the file is not valid JSON"
    )


def test_an_empty_signal_behind_much_whitespace_is_refused_when_read():
    text = b'{"leads": [{"name": "I", "signal": [' + b" " * 10_000 + b"]}]}"
    assert refusal(text) == "Expected `array` of length >= 1 - at `$.leads[0].signal`"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (b'{"leads": [', "the file is not valid JSON: input data was truncated"),
        (
            b'{"leads": [{"name": "I", "signal": [1]}],}',
            "the file is not valid JSON: trailing comma in object (byte 41)",
        ),
        (
            b'{"leads": [{"name": "I", "signal": [1]}]} x',
            "the file is not valid JSON: trailing characters (byte 43)",
        ),
        (
            b'{"leads": [{"name": "I", "signal": [1,]}]}',
            "the file is not valid JSON: trailing comma in array (byte 38)",
        ),
        (b"", "the file is empty"),
    ],
)
def test_malformed_json_is_refused(text: bytes, reason: str):
    assert refusal(text) == reason


def test_invalid_utf8_is_refused_naming_the_byte():
    assert refusal(b'{"leads": [{"name": "\xff", "signal": [1]}]}') == "the file is not valid UTF-8 (byte 21)"


def test_invalid_utf8_across_a_piece_boundary_names_the_byte(small_pieces: None):
    text = b'{"leads": [{"name": "\xc3\xa4\xc3(", "signal": [1]}]}'
    assert refusal(text) == "the file is not valid UTF-8 (byte 23)"


def test_non_ascii_lead_names_are_read():
    assert read(ecg(leads=[lead(name="Ableitung \u00c4 \u2764")])).header.lead_names == [
        "Ableitung \u00c4 \u2764"
    ]


def test_a_file_over_the_limit_is_refused(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(json_file, "MAX_JSON_UPLOAD_BYTES", 20)
    assert refusal(b" " * 21) == "the file is 21 bytes; a JSON recording may have at most 20"


def test_values_after_the_first_piece_are_named_by_their_index_in_the_signal(small_pieces: None):
    text = b'{"leads": [{"name": "I", "signal": [1, 22, 333, 4444, 55555, "6,6", 7]}]}'
    assert refusal(text) == "Expected `int`, got `str` - at `$.leads[0].signal[5]`"


def test_a_long_string_without_commas_is_not_an_integer(small_pieces: None):
    text = b'{"leads": [{"name": "I", "signal": [1, 2, "' + b"x" * 100 + b'"]}]}'
    assert refusal(text) == "Expected `int`, got `str` - at `$.leads[0].signal[2]`"


def test_a_long_number_is_out_of_range(small_pieces: None):
    text = b'{"leads": [{"name": "I", "signal": [1, ' + b"9" * 100 + b"]}]}"
    assert refusal(text) == "Expected `int` <= 2147483647 - at `$.leads[0].signal[1]`"


def test_a_big_file_is_read_in_several_chunks_equal_to_numpy():
    rng = np.random.default_rng(7)
    written = [rng.integers(INT32_MIN, INT32_MAX, 1_500_000, endpoint=True, dtype=np.int32) for _ in range(3)]
    text = json.dumps({"leads": [{"name": f"L{i}", "signal": s.tolist()} for i, s in enumerate(written)]})
    recording = read(text.encode())
    chunks: list[list[np.ndarray]] = [[], [], []]
    for index, chunk in recording.chunks:
        chunks[index].append(chunk)
    assert all(len(parts) > 1 for parts in chunks)
    for parts, expected in zip(chunks, written, strict=True):
        np.testing.assert_array_equal(np.concatenate(parts), expected)


@settings(max_examples=80, deadline=None)
@given(
    signals=st.lists(
        hnp.arrays(np.int32, st.integers(1, 60), elements=st.integers(INT32_MIN, INT32_MAX)),
        min_size=1,
        max_size=4,
    ),
    indent=st.sampled_from([None, 0, 2]),
    piece_bytes=st.integers(2, 64),
)
def test_any_int32_signals_dumped_by_json_read_back_exactly(
    signals: list[np.ndarray], indent: int | None, piece_bytes: int
):
    text = json.dumps(
        {"leads": [{"name": f"L{i}", "signal": s.tolist()} for i, s in enumerate(signals)]}, indent=indent
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(json_file, "PIECE_BYTES", piece_bytes)
        assert leads(read(text.encode())) == [s.tolist() for s in signals]
