"""The EDF reader against files written from the standard (tests/edf_files.py), one rule each."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.ecg.formats.edf import MAX_RECORD_BYTES, read_edf
from chalicelib.ecg.formats.recording import Recording, UnreadableFile
from tests.edf_files import edf_bytes, write_edf

RATE = 250
INT16_MIN, INT16_MAX = -(2**15), 2**15 - 1


class ShortReads:
    """A stream with nothing but read(n), answering at most `most` bytes a call, like a network
    body may."""

    def __init__(self, data: bytes, most: int | None = None) -> None:
        self._file = io.BytesIO(data)
        self._most = most

    def read(self, size: int) -> bytes:
        return self._file.read(size if self._most is None else min(size, self._most))


def signals(leads: int = 2, seconds: int = 3, rate: int = RATE) -> list[np.ndarray]:
    rng = np.random.default_rng(leads * 1000 + seconds)
    return [rng.integers(INT16_MIN, INT16_MAX, seconds * rate, endpoint=True) for _ in range(leads)]


def read(data: bytes, size_bytes: int | None = None, **options: Any) -> Recording:
    return read_edf(ShortReads(data), len(data) if size_bytes is None else size_bytes, **options)  # type: ignore[arg-type]


def leads(recording: Recording) -> list[np.ndarray]:
    """Each lead's samples, the chunks joined."""
    parts: list[list[np.ndarray]] = [[] for _ in recording.header.lead_names]
    for lead, chunk in recording.chunks:
        assert chunk.dtype == np.int32
        parts[lead].append(chunk)
    return [np.concatenate(chunks) for chunks in parts]


def refusal(data: bytes, size_bytes: int | None = None) -> str:
    """Why the file is refused, whether at the header or while streaming."""
    with pytest.raises(UnreadableFile) as error:
        leads(read(data, size_bytes))
    return str(error.value)


def test_digital_values_round_trip_exactly_with_names_and_rate():
    written = signals()
    written[0][:2] = [INT16_MIN, INT16_MAX]
    recording = read(edf_bytes(written, ["I", "II"], RATE))
    assert recording.header.lead_names == ["I", "II"]
    assert recording.header.sampling_rate_hz == 250.0
    for got, expected in zip(leads(recording), written, strict=True):
        np.testing.assert_array_equal(got, expected)


def test_the_header_is_checked_before_any_sample_is_read():
    data = edf_bytes(signals(), ["I", "II"], RATE, number_of_signals="x")
    with pytest.raises(UnreadableFile):
        read(data)


def test_annotation_signals_are_skipped():
    written = signals(3)
    recording = read(edf_bytes(written, ["I", "II", "III"], RATE, edf_plus=True, annotations_at=1))
    assert recording.header.lead_names == ["I", "II", "III"]
    for got, expected in zip(leads(recording), written, strict=True):
        np.testing.assert_array_equal(got, expected)


def test_continuous_edf_plus_is_read():
    written = signals(1)
    recording = read(edf_bytes(written, ["ECG"], RATE, edf_plus=True, annotations=True))
    np.testing.assert_array_equal(leads(recording)[0], written[0])


def test_discontinuous_edf_plus_is_refused():
    data = edf_bytes(signals(1), ["ECG"], RATE, edf_plus=True, annotations=True, reserved="EDF+D")
    assert "EDF+D (discontinuous)" in refusal(data)


def test_leads_of_different_sampling_rates_are_refused_naming_them():
    data = edf_bytes([np.zeros(750), np.zeros(384)], ["I", "II"], [250, 128])
    assert refusal(data) == "leads have different sampling rates (250 Hz for 'I', 128 Hz for 'II')"


def test_annotations_at_another_rate_are_not_a_lead_of_another_rate():
    recording = read(edf_bytes(signals(1), ["I"], RATE, annotations=True))
    assert recording.header.sampling_rate_hz == 250.0


@pytest.mark.parametrize(("rate", "seconds"), [(0.5, 2), (25_000, 1)])
def test_a_sampling_rate_outside_1_to_20000_hz_is_refused(rate: float, seconds: float):
    data = edf_bytes([np.zeros(int(rate * seconds) * 2)], ["I"], rate, record_seconds=seconds)
    assert refusal(data) == f"the sampling rate {rate:g} Hz breaks the rule: 1 to 20000 Hz"


@pytest.mark.parametrize(("seconds", "samples"), [(0.5, "125"), (0.1, "25"), (2, "500")])
def test_a_record_duration_other_than_one_second_gives_the_exact_rate(seconds: float, samples: str):
    written = signals(2, seconds=4)
    data = edf_bytes(written, ["I", "II"], RATE, record_seconds=seconds)
    assert data[244:252].strip() == str(seconds).encode()  # the duration of a data record
    assert data[256 + 2 * 216 : 256 + 2 * 216 + 8].strip() == samples.encode()  # samples per record of lead 1
    recording = read(data)
    assert recording.header.sampling_rate_hz == 250.0
    np.testing.assert_array_equal(leads(recording)[1], written[1])


def test_a_record_duration_written_with_a_leading_dot_is_read():
    data = edf_bytes(signals(1), ["I"], RATE, record_seconds=0.5, record_duration=".5")
    assert read(data).header.sampling_rate_hz == 250.0


def test_a_file_ending_inside_a_data_record_is_refused_naming_it():
    data = edf_bytes(signals(1, seconds=5), ["I"], RATE)
    assert refusal(data[:-100]) == "the file ends in the middle of data record 5"


def test_a_file_with_fewer_records_than_its_header_says_is_refused():
    data = edf_bytes(signals(1, seconds=5), ["I"], RATE)
    assert refusal(data[: -RATE * 2]) == "the file holds 4 data records but its header says 5"


def test_a_stream_ending_before_its_announced_size_is_refused_naming_the_record():
    data = edf_bytes(signals(1, seconds=5), ["I"], RATE)
    assert refusal(data[:-100], size_bytes=len(data)) == "the file ends in the middle of data record 5"


def test_a_file_longer_than_its_header_says_is_refused():
    data = edf_bytes(signals(1), ["I"], RATE)
    assert refusal(data + b"\0\0") == (
        "the file is 2 bytes longer than its header says (3 data records of 500 bytes)"
    )


def test_a_stream_longer_than_its_announced_size_is_refused():
    data = edf_bytes(signals(1), ["I"], RATE)
    assert refusal(data + b"\0\0", size_bytes=len(data)).startswith("the file is longer than its header says")


def test_an_unknown_number_of_records_is_derived_from_the_size():
    written = signals(2, seconds=4)
    recording = read(edf_bytes(written, ["I", "II"], RATE, data_records="-1"))
    assert [len(lead) for lead in leads(recording)] == [1000, 1000]


def test_an_unknown_number_of_records_with_a_partial_record_is_refused():
    data = edf_bytes(signals(1, seconds=4), ["I"], RATE, data_records="-1")
    assert refusal(data[:-10]) == "the file ends in the middle of data record 4"


def test_a_file_without_data_records_is_refused():
    header = edf_bytes(signals(1), ["I"], RATE, data_records="0")[:512]
    assert refusal(header) == "the file holds no data records"


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"number_of_signals": "x"}, "EDF header: the number of signals is not a whole number ('x')"),
        ({"number_of_signals": ""}, "EDF header: the number of signals is not a whole number ('')"),
        ({"number_of_signals": "0"}, "EDF header: the number of signals is 0; it must be at least 1"),
        ({"data_records": "many"}, "EDF header: the number of data records is not a whole number ('many')"),
        (
            {"data_records": "-2"},
            "EDF header: the number of data records is -2; it must be -1 (unknown) or more",
        ),
        ({"data_records": "1.5"}, "EDF header: the number of data records is not a whole number ('1.5')"),
        ({"record_duration": "1s"}, "EDF header: the duration of a data record is not a number ('1s')"),
        ({"record_duration": "1e0"}, "EDF header: the duration of a data record is not a number ('1e0')"),
        (
            {"record_duration": "0"},
            "EDF header: the duration of a data record is 0 seconds; it must be more than 0",
        ),
        (
            {"header_bytes": "512"},
            "EDF header: the number of bytes in the header is 512, but 2 signals need 768",
        ),
        ({"header_bytes": "x"}, "EDF header: the number of bytes in the header is not a whole number ('x')"),
        (
            {"samples_per_record": ["250", "x"]},
            "EDF header: the number of samples in each data record of signal 2 is not a whole number ('x')",
        ),
        (
            {"samples_per_record": ["250", "0"]},
            "EDF header: the number of samples in each data record of signal 2 is 0; it must be at least 1",
        ),
        (
            {"digital_maximum": ["32767", "40000"]},
            "EDF header: the digital maximum of signal 2 is 40000, outside the 16-bit range",
        ),
        (
            {"digital_minimum": ["min", "0"]},
            "EDF header: the digital minimum of signal 1 is not a whole number ('min')",
        ),
        ({"version": "1"}, "this is not an EDF file: its header does not start with version 0"),
        ({"version": " 0"}, "this is not an EDF file: its header does not start with version 0"),
        (
            {"version": b"\xffBIOSEMI"},
            "this is a BDF (24-bit) file; only EDF and EDF+ (16-bit) are supported",
        ),
    ],
)
def test_a_bad_header_field_is_refused_naming_it(overrides: dict[str, Any], reason: str):
    assert refusal(edf_bytes(signals(), ["I", "II"], RATE, **overrides)) == reason


def test_numbers_padded_on_either_side_are_read():
    written = signals(1)
    data = edf_bytes(
        written, ["I"], RATE, data_records="   3", number_of_signals="  1", samples_per_record=["  250"]
    )
    np.testing.assert_array_equal(leads(read(data))[0], written[0])


def test_a_file_shorter_than_the_fixed_header_is_refused():
    assert refusal(b"0       ") == "the file is 8 bytes: too short for an EDF header (256 bytes)"


def test_a_file_ending_inside_the_signal_headers_is_refused():
    data = edf_bytes(signals(), ["I", "II"], RATE)
    assert refusal(data[:600]).startswith("the file ends inside its EDF header")


def test_labels_are_trimmed_into_lead_names():
    recording = read(edf_bytes(signals(2), ["  V1 ", "II"], RATE))
    assert recording.header.lead_names == ["V1", "II"]


def test_an_empty_label_breaks_the_lead_name_rule():
    data = edf_bytes(signals(2), ["I", "  "], RATE)
    assert refusal(data) == "lead name '' (signal 2) breaks the rule: 1-32 characters"


def test_repeated_labels_are_refused():
    data = edf_bytes(signals(3), ["I", "II", "I "], RATE)
    assert refusal(data) == "lead name 'I' (signal 3) is repeated"


def test_a_file_of_annotations_only_is_refused():
    data = edf_bytes(signals(1), ["I"], RATE, annotations=True, label=["EDF Annotations"] * 2)
    assert refusal(data) == "the file has no signals other than EDF Annotations"


def test_more_than_32_leads_are_refused():
    names = [f"L{index}" for index in range(33)]
    data = edf_bytes([np.zeros(RATE)] * 33, names, RATE)
    assert refusal(data) == "the file has 33 signals; an ECG holds at most 32 leads"


def test_32_leads_are_read():
    names = [f"L{index}" for index in range(32)]
    assert read(edf_bytes([np.zeros(RATE)] * 32, names, RATE)).header.lead_names == names


def test_data_records_too_large_for_flat_memory_are_refused():
    samples = str(MAX_RECORD_BYTES // 2 + 1)
    data = edf_bytes([np.zeros(1)], ["I"], 1, samples_per_record=[samples], record_duration=samples)
    assert refusal(data).startswith("EDF data records of")


def test_each_read_yields_about_chunk_samples_samples():
    data = edf_bytes(signals(2, seconds=10), ["I", "II"], RATE)
    sizes = [len(chunk) for _, chunk in read(data, chunk_samples=1000).chunks]
    assert sizes == [500] * 10  # 5 reads of 2 records (250 samples of each lead per record)


@settings(max_examples=60, deadline=None)
@given(
    records=st.integers(1, 12),
    record_seconds=st.sampled_from([0.5, 1, 2]),
    annotations=st.booleans(),
    chunk_samples=st.integers(1, 5000),
    most=st.one_of(st.none(), st.integers(1, 700)),
)
def test_chunking_and_short_reads_do_not_change_the_samples(
    records: int, record_seconds: float, annotations: bool, chunk_samples: int, most: int | None
):
    count = int(RATE * record_seconds) * records
    written = [np.arange(count) % 65536 - 32768, -np.arange(count) // 3]
    data = edf_bytes(
        written, ["I", "II"], RATE, record_seconds, edf_plus=annotations, annotations=annotations
    )
    recording = read_edf(ShortReads(data, most), len(data), chunk_samples=chunk_samples)  # type: ignore[arg-type]
    for got, expected in zip(leads(recording), written, strict=True):
        np.testing.assert_array_equal(got, expected)


def test_a_streamed_file_reads_back_like_one_built_in_memory(tmp_path: Path):
    blocks = [signals(3, seconds=2) for _ in range(3)]
    path = tmp_path / "holter.edf"
    size = write_edf(path, blocks, ["I", "II", "III"], RATE, edf_plus=True, annotations=True)
    with path.open("rb") as file:
        got = leads(read_edf(file, size))
    for lead in range(3):
        np.testing.assert_array_equal(got[lead], np.concatenate([block[lead] for block in blocks]))


def test_latin1_text_that_recorders_write_is_read_though_the_standard_asks_for_ascii():
    data = edf_bytes(
        signals(),
        ["I", "II"],
        RATE,
        patient="Müller".encode("latin-1"),
        physical_dimension=["µV".encode("latin-1")] * 2,
        label=["I", "IIé".encode("latin-1")],
    )
    recording = read(data)
    assert recording.header.lead_names == ["I", "IIé"]
    assert [lead.tolist() for lead in leads(recording)] == [lead.tolist() for lead in signals()]


def test_a_label_with_a_control_character_breaks_the_lead_name_rule():
    assert "signal 2" in refusal(edf_bytes(signals(), ["I", "II"], RATE, label=["I", b"II\x00"]))


def test_a_physical_range_in_a_form_the_standard_does_not_allow_is_no_reason_to_refuse_the_digital_values():
    data = edf_bytes(signals(), ["I", "II"], RATE, physical_minimum=["-3.2E+3", "1,0"])
    assert [lead.tolist() for lead in leads(read(data))] == [lead.tolist() for lead in signals()]
