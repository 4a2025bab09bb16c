"""EDF and EDF+ files for tests, written from the standards (EDF 1992, EDF+ 2003), not by the reader
under test: `edf_bytes` builds a small file in memory, `write_edf` streams a big one to disk.

Every header field can be replaced (`**overrides`, named as in FIELD_NAMES) to make a file that
breaks the standard in one place; truncated or extended files are slices or sums of the bytes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from fractions import Fraction
from pathlib import Path

import numpy as np

ANNOTATIONS_LABEL = "EDF Annotations"
ANNOTATION_SAMPLES = 32  # per data record: 64 bytes, room for the time-keeping TAL

# Override names of the fixed header fields, with their widths in bytes.
FIXED = {
    "version": 8,
    "patient": 80,
    "recording": 80,
    "start_date": 8,
    "start_time": 8,
    "header_bytes": 8,
    "reserved": 44,
    "data_records": 8,
    "record_duration": 8,
    "number_of_signals": 4,
}
# Override names of the per-signal fields; an override is a list with one value per signal
# (annotations included), each str (ASCII, space-padded) or bytes (written as given, padded).
PER_SIGNAL = {
    "label": 16,
    "transducer": 80,
    "physical_dimension": 8,
    "physical_minimum": 8,
    "physical_maximum": 8,
    "digital_minimum": 8,
    "digital_maximum": 8,
    "prefiltering": 80,
    "samples_per_record": 8,
    "signal_reserved": 32,
}
FIELD_NAMES = (*FIXED, *PER_SIGNAL)

type Field = str | bytes


def _field(value: Field, width: int) -> bytes:
    raw = value.encode("ascii") if isinstance(value, str) else value
    if len(raw) > width:
        raise ValueError(f"{raw!r} does not fit in {width} bytes")
    return raw.ljust(width, b" ")


def _number(value: float | Fraction) -> str:
    """A number as the header writes it: `1`, `0.5`, `-3276.8` (8 characters at most)."""
    return str(int(value)) if value == int(value) else f"{float(value):g}"


def samples_per_record(sampling_rate_hz: float, record_seconds: float) -> int:
    count = Fraction(str(sampling_rate_hz)) * Fraction(str(record_seconds))
    if count.denominator != 1 or count < 1:
        raise ValueError(f"{sampling_rate_hz} Hz over {record_seconds} s is not a whole number of samples")
    return int(count)


def edf_header(
    labels: Sequence[str],
    rates_hz: Sequence[float],
    records: int,
    record_seconds: float = 1,
    edf_plus: bool = False,
    annotations_at: int | None = None,
    **overrides: Field | Sequence[Field],
) -> bytes:
    """The header of a file whose leads are `labels` (one rate each), with an EDF Annotations
    signal inserted at index `annotations_at` when it is not None."""
    unknown = set(overrides) - set(FIELD_NAMES)
    if unknown:
        raise TypeError(f"unknown EDF fields {sorted(unknown)}; known: {FIELD_NAMES}")
    signals = [
        {
            "label": label,
            "transducer": "AgAgCl electrode",
            "physical_dimension": "uV",
            "physical_minimum": "-5000",  # not the digital range: a reader that scales is caught
            "physical_maximum": "5000",
            "digital_minimum": "-32768",
            "digital_maximum": "32767",
            "prefiltering": "HP:0.05Hz LP:150Hz",
            "samples_per_record": str(samples_per_record(rate, record_seconds)),
            "signal_reserved": "",
        }
        for label, rate in zip(labels, rates_hz, strict=True)
    ]
    if annotations_at is not None:
        signals.insert(
            annotations_at,
            {
                "label": ANNOTATIONS_LABEL,
                "transducer": "",
                "physical_dimension": "",
                "physical_minimum": "-1",
                "physical_maximum": "1",
                "digital_minimum": "-32768",
                "digital_maximum": "32767",
                "prefiltering": "",
                "samples_per_record": str(ANNOTATION_SAMPLES),
                "signal_reserved": "",
            },
        )
    fixed: dict[str, Field] = {
        "version": "0",
        "patient": "X X X X" if edf_plus else "anonymous",
        "recording": "Startdate 27-NOV-2026 X X X" if edf_plus else "test recording",
        "start_date": "27.11.26",
        "start_time": "10.00.00",
        "header_bytes": str(256 * (len(signals) + 1)),
        "reserved": "EDF+C" if edf_plus else "",
        "data_records": str(records),
        "record_duration": _number(Fraction(str(record_seconds))),
        "number_of_signals": str(len(signals)),
    }
    for name in FIXED:
        if name in overrides:
            value = overrides[name]
            assert isinstance(value, str | bytes), f"{name} takes one value"
            fixed[name] = value
    header = b"".join(_field(fixed[name], width) for name, width in FIXED.items())
    for name, width in PER_SIGNAL.items():
        values = overrides.get(name, [signal[name] for signal in signals])
        assert not isinstance(values, str | bytes), f"{name} takes one value per signal"
        header += b"".join(_field(value, width) for value in values)
    return header


def _annotation_record(index: int, record_seconds: float) -> np.ndarray:
    """The time-keeping TAL that starts each record's annotations: `+onset` 20 20 0, then zeros."""
    tal = f"+{_number(Fraction(str(record_seconds)) * index)}\x14\x14\x00".encode("ascii")
    return np.frombuffer(tal.ljust(ANNOTATION_SAMPLES * 2, b"\x00"), dtype="<i2")


def _records(
    signals: Sequence[np.ndarray],
    counts: Sequence[int],
    first_record: int,
    record_seconds: float,
    annotations_at: int | None,
) -> bytes:
    """Whole data records: each lead's samples for the record, one signal after another."""
    records = len(signals[0]) // counts[0]
    columns = []
    for signal, count in zip(signals, counts, strict=True):
        values = np.asarray(signal)
        if len(values) != records * count:
            raise ValueError(f"every signal must fill {records} whole records of {count} samples")
        if values.size and not (values.min() >= -(2**15) and values.max() < 2**15):
            raise ValueError("EDF holds 16-bit samples")
        columns.append(values.astype("<i2").reshape(records, count))
    if annotations_at is not None:
        tals = [_annotation_record(first_record + index, record_seconds) for index in range(records)]
        columns.insert(annotations_at, np.array(tals, dtype="<i2").reshape(records, ANNOTATION_SAMPLES))
    return np.hstack(columns).tobytes()


def _rates(sampling_rate_hz: float | Sequence[float], leads: int) -> list[float]:
    return (
        [float(sampling_rate_hz)] * leads
        if isinstance(sampling_rate_hz, int | float)
        else list(sampling_rate_hz)
    )


def edf_bytes(
    signals: Sequence[np.ndarray],
    labels: Sequence[str],
    sampling_rate_hz: float | Sequence[float],
    record_seconds: float = 1,
    edf_plus: bool = False,
    annotations: bool = False,
    annotations_at: int | None = None,
    **overrides: Field | Sequence[Field],
) -> bytes:
    """A whole EDF (or EDF+C) file. Each signal must fill whole data records; a list of rates
    gives each lead its own. `annotations` adds an EDF Annotations signal (last, or at
    `annotations_at`)."""
    rates = _rates(sampling_rate_hz, len(labels))
    counts = [samples_per_record(rate, record_seconds) for rate in rates]
    where = annotations_at if annotations_at is not None else len(labels) if annotations else None
    records = len(signals[0]) // counts[0]
    header = edf_header(labels, rates, records, record_seconds, edf_plus, where, **overrides)
    return header + _records(signals, counts, 0, record_seconds, where)


def write_edf(
    path: Path,
    blocks: Iterable[Sequence[np.ndarray]],
    labels: Sequence[str],
    sampling_rate_hz: float,
    record_seconds: float = 1,
    edf_plus: bool = False,
    annotations: bool = False,
) -> int:
    """Stream a big file to `path`, block by block (each block: one array per lead, whole records);
    the number of data records is written as -1 first and set at the end, as recorders do.
    Returns the file's size in bytes."""
    rates = _rates(sampling_rate_hz, len(labels))
    counts = [samples_per_record(rate, record_seconds) for rate in rates]
    where = len(labels) if annotations else None
    header = edf_header(labels, rates, -1, record_seconds, edf_plus, where)
    records = 0
    with path.open("wb") as file:
        file.write(header)
        for block in blocks:
            file.write(_records(block, counts, records, record_seconds, where))
            records += len(block[0]) // counts[0]
        file.seek(236)  # the number of data records: after version (8), ids (160), date, time, size, reserved
        file.write(_field(str(records), 8))
        file.seek(0, 2)
        return file.tell()
