"""EDF (1992) and EDF+ continuous (2003) files, read as a stream of digital samples.

Holter recorders export EDF; a day of 3 leads at 250 Hz is 130 MB and a file may reach 2 GiB,
so the header is parsed and checked at once (from the standard, no EDF library) and the data
records are then read a few at a time: memory stays flat whatever the recording's length. The
samples are the file's digital int16 values, exactly; physical scaling is left to readers.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from typing import BinaryIO

import numpy as np

from chalicelib.ecg.formats.recording import (
    Recording,
    RecordingHeader,
    UnreadableFile,
    lead_name_problem,
    sampling_rate_problem,
)
from chalicelib.rules import MAX_LEADS

FIXED_HEADER_BYTES = 256
SIGNAL_HEADER_BYTES = 256  # each signal adds 256 bytes, spread over the per-signal fields below
ANNOTATIONS_LABEL = "EDF Annotations"
DEFAULT_CHUNK_SAMPLES = 1 << 20  # samples (all signals together) per read: 2 MiB of data
# One data record is the smallest unit read; the standard advises under 61,440 bytes. This bound
# keeps memory flat even for a file written with one huge record.
MAX_RECORD_BYTES = 64 << 20

# (field, width in bytes), in file order.
FIXED_FIELDS = (
    ("version", 8),
    ("patient identification", 80),
    ("recording identification", 80),
    ("start date", 8),
    ("start time", 8),
    ("number of bytes in the header", 8),
    ("reserved field", 44),
    ("number of data records", 8),
    ("duration of a data record", 8),
    ("number of signals", 4),
)
# Stored field by field: ns labels, then ns transducer types, and so on.
SIGNAL_FIELDS = (
    ("label", 16),
    ("transducer type", 80),
    ("physical dimension", 8),
    ("physical minimum", 8),
    ("physical maximum", 8),
    ("digital minimum", 8),
    ("digital maximum", 8),
    ("prefiltering", 80),
    ("number of samples in each data record", 8),
    ("reserved field", 32),
)

# The standard asks for left-justified, space-padded fields; leading spaces are tolerated too.
_INTEGER = re.compile(r" *[+-]?[0-9]+ *")
_DECIMAL = re.compile(r" *[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+) *")
_INT16_MIN, _INT16_MAX = -(2**15), 2**15 - 1


@dataclass(frozen=True)
class _Layout:
    """Where each kept lead's samples lie inside one data record (in samples)."""

    header_bytes: int
    records: int
    record_samples: int
    lead_slices: list[tuple[int, int]]  # (offset, samples per record) of each kept signal


def read_edf(stream: BinaryIO, size_bytes: int, chunk_samples: int = DEFAULT_CHUNK_SAMPLES) -> Recording:
    """Read and check the header now (UnreadableFile if it breaks the standard or the contract);
    the samples follow lazily, about `chunk_samples` samples (all signals) per read.

    `size_bytes` is the file's size; only `stream.read(n)` is used, so an S3 body works."""
    if chunk_samples < 1:
        raise ValueError("chunk_samples must be at least 1")
    header, layout = _read_header(stream, size_bytes)
    records_per_read = max(1, chunk_samples // layout.record_samples)
    return Recording(header, _samples(stream, layout, records_per_read))


def _read(stream: BinaryIO, size: int) -> bytes:
    """`size` bytes, or fewer only at the end of the stream (a network body may return less)."""
    first = stream.read(size)
    if len(first) == size or not first:
        return first
    parts, got = [first], len(first)
    while got < size:
        part = stream.read(size - got)
        if not part:
            break
        parts.append(part)
        got += len(part)
    return b"".join(parts)


def _text_fields(raw: bytes, layout: tuple[tuple[str, int], ...], count: int) -> dict[str, list[str]]:
    """Split a header block into its fields, `count` values each. The standard allows only
    printable ASCII, but recorders write Latin-1 too (`µV`, a patient's name): text is read as
    Latin-1, and what is used is checked where it is used (numbers parsed strictly, labels by
    the lead-name rule)."""
    fields: dict[str, list[str]] = {}
    offset = 0
    for name, width in layout:
        values = []
        for _ in range(count):
            values.append(raw[offset : offset + width].decode("latin-1"))
            offset += width
        fields[name] = values
    return fields


def _number(text: str, what: str, whole: bool) -> Fraction:
    if not (_INTEGER if whole else _DECIMAL).fullmatch(text):
        kind = "a whole number" if whole else "a number"
        raise UnreadableFile(f"EDF header: the {what} is not {kind} ({text.strip()!r})")
    return Fraction(text.strip())


def _integer(text: str, what: str) -> int:
    return int(_number(text, what, whole=True))


def _read_header(stream: BinaryIO, size_bytes: int) -> tuple[RecordingHeader, _Layout]:
    if size_bytes < FIXED_HEADER_BYTES:
        raise UnreadableFile(
            f"the file is {size_bytes} bytes: too short for an EDF header ({FIXED_HEADER_BYTES} bytes)"
        )
    raw = _read(stream, FIXED_HEADER_BYTES)
    if len(raw) < FIXED_HEADER_BYTES:
        raise UnreadableFile("the file ends inside its EDF header")
    if raw.startswith(b"\xffBIOSEMI"):
        raise UnreadableFile("this is a BDF (24-bit) file; only EDF and EDF+ (16-bit) are supported")
    if raw[:8] != b"0       ":
        raise UnreadableFile("this is not an EDF file: its header does not start with version 0")
    fixed = {name: values[0] for name, values in _text_fields(raw, FIXED_FIELDS, 1).items()}

    signals = _integer(fixed["number of signals"], "number of signals")
    if signals < 1:
        raise UnreadableFile(f"EDF header: the number of signals is {signals}; it must be at least 1")
    header_bytes = FIXED_HEADER_BYTES + SIGNAL_HEADER_BYTES * signals
    declared = _integer(fixed["number of bytes in the header"], "number of bytes in the header")
    if declared != header_bytes:
        raise UnreadableFile(
            f"EDF header: the number of bytes in the header is {declared}, but {signals} signals need {header_bytes}"
        )
    if fixed["reserved field"].startswith("EDF+D"):
        raise UnreadableFile(
            "EDF+D (discontinuous) recordings are not supported: only EDF and continuous EDF+ (EDF+C)"
        )
    records = _integer(fixed["number of data records"], "number of data records")
    if records < -1:
        raise UnreadableFile(
            f"EDF header: the number of data records is {records}; it must be -1 (unknown) or more"
        )
    duration = _number(fixed["duration of a data record"], "duration of a data record", whole=False)
    if duration <= 0:
        raise UnreadableFile(
            f"EDF header: the duration of a data record is {fixed['duration of a data record'].strip()} seconds;"
            " it must be more than 0"
        )
    if size_bytes < header_bytes:
        raise UnreadableFile(
            f"the file ends inside its EDF header ({header_bytes} bytes for {signals} signals)"
        )
    raw = _read(stream, header_bytes - FIXED_HEADER_BYTES)
    if len(raw) < header_bytes - FIXED_HEADER_BYTES:
        raise UnreadableFile("the file ends inside its EDF header")
    per_signal = _text_fields(raw, SIGNAL_FIELDS, signals)
    header, lead_slices, record_samples = _leads(per_signal, duration)
    return header, _Layout(
        header_bytes,
        _records(records, size_bytes - header_bytes, record_samples * 2),
        record_samples,
        lead_slices,
    )


def _leads(
    per_signal: dict[str, list[str]], duration: Fraction
) -> tuple[RecordingHeader, list[tuple[int, int]], int]:
    """The kept leads (every signal but annotations): names, common rate, place in a record."""
    names: list[str] = []
    seen: set[str] = set()
    rates: list[Fraction] = []
    lead_slices: list[tuple[int, int]] = []
    offset = 0
    for index, label in enumerate(per_signal["label"]):
        number = index + 1
        count = _integer(
            per_signal["number of samples in each data record"][index],
            f"number of samples in each data record of signal {number}",
        )
        if count < 1:
            raise UnreadableFile(
                f"EDF header: the number of samples in each data record of signal {number} is {count};"
                " it must be at least 1"
            )
        # The physical range is not checked: the digital values are stored, and exports write it
        # in forms the standard does not (`-3.2E+3`, `1,0`).
        for field in ("digital minimum", "digital maximum"):
            value = _integer(per_signal[field][index], f"{field} of signal {number}")
            if not _INT16_MIN <= value <= _INT16_MAX:
                raise UnreadableFile(
                    f"EDF header: the {field} of signal {number} is {value}, outside the 16-bit range"
                )
        name = label.strip()
        if name != ANNOTATIONS_LABEL:
            problem = lead_name_problem(name, seen)
            if problem is not None:
                raise UnreadableFile(f"lead name {name!r} (signal {number}) {problem}")
            names.append(name)
            seen.add(name)
            rates.append(count / duration)
            lead_slices.append((offset, count))
        offset += count
    if not names:
        raise UnreadableFile(f"the file has no signals other than {ANNOTATIONS_LABEL}")
    if len(names) > MAX_LEADS:
        raise UnreadableFile(f"the file has {len(names)} signals; an ECG holds at most {MAX_LEADS} leads")
    for name, rate in zip(names, rates, strict=True):
        if rate != rates[0]:
            raise UnreadableFile(
                f"leads have different sampling rates ({_hz(rates[0])} Hz for {names[0]!r},"
                f" {_hz(rate)} Hz for {name!r})"
            )
    problem = sampling_rate_problem(float(rates[0]))
    if problem is not None:
        raise UnreadableFile(f"the sampling rate {_hz(rates[0])} Hz {problem}")
    if offset * 2 > MAX_RECORD_BYTES:
        raise UnreadableFile(
            f"EDF data records of {offset * 2} bytes are too large; the limit is {MAX_RECORD_BYTES}"
        )
    return RecordingHeader(names, float(rates[0])), lead_slices, offset


def _hz(rate: Fraction) -> str:
    return f"{float(rate):g}"


def _records(declared: int, data_bytes: int, record_bytes: int) -> int:
    """The number of data records, checked against the file's size (-1: derived from it)."""
    held, rest = divmod(data_bytes, record_bytes)
    if declared == -1:
        if rest:
            raise UnreadableFile(f"the file ends in the middle of data record {held + 1}")
        declared = held
    elif data_bytes < declared * record_bytes:
        if rest:
            raise UnreadableFile(f"the file ends in the middle of data record {held + 1}")
        raise UnreadableFile(f"the file holds {held} data records but its header says {declared}")
    elif data_bytes > declared * record_bytes:
        raise UnreadableFile(
            f"the file is {data_bytes - declared * record_bytes} bytes longer than its header says"
            f" ({declared} data records of {record_bytes} bytes)"
        )
    if declared == 0:
        raise UnreadableFile("the file holds no data records")
    return declared


def _samples(stream: BinaryIO, layout: _Layout, records_per_read: int) -> Iterator[tuple[int, np.ndarray]]:
    """Each read is whole records as one int16 matrix (a row per record); a lead's chunk is its
    columns, copied to int32 so the read buffer can go."""
    record_bytes = layout.record_samples * 2
    done = 0
    while done < layout.records:
        count = min(records_per_read, layout.records - done)
        data = _read(stream, count * record_bytes)
        if len(data) < count * record_bytes:
            held, rest = divmod(len(data), record_bytes)
            if rest:
                raise UnreadableFile(f"the file ends in the middle of data record {done + held + 1}")
            raise UnreadableFile(f"the file ends after data record {done + held} of {layout.records}")
        block = np.frombuffer(data, dtype="<i2").reshape(count, layout.record_samples)
        for lead, (offset, samples) in enumerate(layout.lead_slices):
            yield lead, block[:, offset : offset + samples].astype(np.int32).ravel()
        done += count
    if _read(stream, 1):
        raise UnreadableFile(
            f"the file is longer than its header says ({layout.records} data records of {record_bytes} bytes)"
        )
