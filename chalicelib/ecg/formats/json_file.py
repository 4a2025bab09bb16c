"""The JSON upload format: `{"sampling_rate_hz"?, "leads": [{"name", "number_of_samples"?, "signal"}]}`,
with the rules of POST /ecgs, up to 268,435,456 bytes.

The file may be held in memory, but its samples may not become Python ints (a 256 MiB file holds
~130M samples: gigabytes as a list). msgspec checks the whole file's syntax and the structure in
one C pass, keeping each `signal` as a zero-copy Raw slice; each signal is then decoded a few MB
at a time (cut at commas) into int32 arrays. Messages are POST /ecgs's, naming the field.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterator
from typing import Annotated

import msgspec
import numpy as np

from chalicelib.ecg.formats.recording import (
    Recording,
    RecordingHeader,
    UnreadableFile,
    lead_name_problem,
)
from chalicelib.rules import MAX_JSON_UPLOAD_BYTES, MAX_LEADS, LeadName, Sample, SamplingRate, readable

PIECE_BYTES = 1 << 20  # of signal text per decode: ~175k samples, ~7 MB of transient Python ints
_WHITESPACE = b" \t\r\n"  # JSON's only whitespace
_COMMA = ord(",")


class _LeadFile(msgspec.Struct, forbid_unknown_fields=True):
    name: LeadName
    signal: msgspec.Raw
    number_of_samples: int | msgspec.UnsetType = msgspec.UNSET


class _EcgFile(msgspec.Struct, forbid_unknown_fields=True):
    leads: Annotated[list[_LeadFile], msgspec.Meta(min_length=1, max_length=MAX_LEADS)]
    sampling_rate_hz: SamplingRate | msgspec.UnsetType = msgspec.UNSET


_SIGNAL = msgspec.json.Decoder(Annotated[list[Sample], msgspec.Meta(min_length=1)])
_SAMPLES = msgspec.json.Decoder(list[Sample])
_AT = re.compile(r"`\$(?:\[(\d+)\])?`")


def read_json_file(data: bytes) -> Recording:
    """Check the file's syntax, structure, names and rate now (UnreadableFile if any breaks the
    rules); the samples follow lazily, each lead's in slices, refused at the first non-integer."""
    if len(data) > MAX_JSON_UPLOAD_BYTES:
        raise UnreadableFile(
            f"the file is {len(data)} bytes; a JSON recording may have at most {MAX_JSON_UPLOAD_BYTES}"
        )
    if not data:
        raise UnreadableFile("the file is empty")
    _check_utf8(data)
    try:
        ecg = msgspec.json.decode(data, type=_EcgFile)
    except msgspec.ValidationError as error:
        raise UnreadableFile(readable(str(error))) from None
    except msgspec.DecodeError as error:
        reason = str(error).removeprefix("JSON is malformed: ")
        raise UnreadableFile(f"the file is not valid JSON: {reason[:1].lower()}{reason[1:]}") from None
    names: set[str] = set()
    for index, lead in enumerate(ecg.leads):
        problem = lead_name_problem(lead.name, names)
        if problem is not None:
            raise UnreadableFile(f"lead name {lead.name!r} {problem} - at `$.leads[{index}].name`")
        names.add(lead.name)
        _check_array(memoryview(lead.signal), index)
    rate = None if ecg.sampling_rate_hz is msgspec.UNSET else ecg.sampling_rate_hz
    return Recording(RecordingHeader([lead.name for lead in ecg.leads], rate), _samples(ecg.leads))


def _check_utf8(data: bytes) -> None:
    """Incrementally, so a non-ASCII file never becomes one huge str."""
    if data.isascii():
        return
    decoder = codecs.getincrementaldecoder("utf-8")()
    view = memoryview(data)
    for start in range(0, len(data), PIECE_BYTES):
        pending = len(decoder.getstate()[0])  # the previous piece's unfinished character, prepended
        try:
            decoder.decode(view[start : start + PIECE_BYTES], final=start + PIECE_BYTES >= len(data))
        except UnicodeDecodeError as error:
            raise UnreadableFile(
                f"the file is not valid UTF-8 (byte {start - pending + error.start})"
            ) from None


def _at(message: str, lead: int, offset: int = 0) -> str:
    """msgspec names the place in the decoded slice (`$[3]`); name it in the file."""

    def place(match: re.Match[str]) -> str:
        index = "" if match[1] is None else f"[{int(match[1]) + offset}]"
        return f"`$.leads[{lead}].signal{index}`"

    if " - at `$" not in message:  # msgspec leaves out the place of an error at the root
        message += " - at `$`"
    return _AT.sub(place, readable(message))


def _check_array(signal: memoryview, lead: int) -> None:
    """A signal that is not an array, or is visibly empty, is refused before any sample is read.
    (An empty array behind 4 KiB of whitespace is caught when its lead is read.)"""
    head = bytes(signal[: 4096 + 2])
    if head.startswith(b"[") and not head[1:].lstrip(_WHITESPACE).startswith(b"]"):
        return
    try:
        _SIGNAL.decode(signal)
    except msgspec.ValidationError as error:
        raise UnreadableFile(_at(str(error), lead)) from None


def _pieces(signal: memoryview) -> Iterator[bytes]:
    """The array's elements as JSON arrays of about PIECE_BYTES each, cut at commas."""
    characters = np.frombuffer(signal, dtype=np.uint8)
    start, stop = 1, len(signal) - 1  # inside the brackets: msgspec keeps no surrounding whitespace
    while start < stop:
        end = min(start + PIECE_BYTES, stop)
        if end < stop:
            commas = np.flatnonzero(characters[start:end] == _COMMA)
            end = start + int(commas[-1]) if commas.size else _next_comma(characters, end, stop)
        yield b"".join((b"[", signal[start:end], b"]"))
        start = end + 1


def _next_comma(characters: np.ndarray, start: int, stop: int) -> int:
    """Past a window without a comma (a run of whitespace, or one long value that is not an
    integer), window by window so memory stays bounded."""
    while start < stop:
        commas = np.flatnonzero(characters[start : start + PIECE_BYTES] == _COMMA)
        if commas.size:
            return start + int(commas[0])
        start += PIECE_BYTES
    return stop


def _decode(piece: bytes, lead: int, offset: int) -> list[int]:
    try:
        return _SAMPLES.decode(piece)
    except msgspec.ValidationError as error:
        raise UnreadableFile(_at(str(error), lead, offset)) from None
    except msgspec.DecodeError:
        # The file is valid JSON, so a cut piece failing to parse was cut inside a string: msgspec
        # reads a string before checking its type. Close it where it opens to get the message.
        quote = piece.find(b'"')
        try:
            _SAMPLES.decode(piece[: max(quote, 0)] + b'""]')
        except msgspec.ValidationError as error:
            raise UnreadableFile(_at(str(error), lead, offset)) from None
        except msgspec.DecodeError:
            pass
        raise UnreadableFile(f"a value that is not an integer - at `$.leads[{lead}].signal`") from None


def _samples(leads: list[_LeadFile]) -> Iterator[tuple[int, np.ndarray]]:
    for index, lead in enumerate(leads):
        count = 0
        for piece in _pieces(memoryview(lead.signal)):
            values = _decode(piece, index, count)
            if values:
                count += len(values)
                yield index, np.array(values, dtype=np.int32)
        if count == 0:
            raise UnreadableFile(f"Expected `array` of length >= 1 - at `$.leads[{index}].signal`")
        if lead.number_of_samples is not msgspec.UNSET and lead.number_of_samples != count:
            raise UnreadableFile(
                f"number_of_samples is {lead.number_of_samples} but the signal has {count} samples"
                f" - at `$.leads[{index}].number_of_samples`"
            )
