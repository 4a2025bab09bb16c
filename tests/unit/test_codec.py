"""The signal codec: blocks that decode alone, an index, windows and beats read by range."""

from __future__ import annotations

import contextlib
import itertools
import statistics
import struct
import time
from functools import cache
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.ecg.codec import (
    BLOCK_SAMPLES,
    ENTRY_SIZE,
    CorruptPayloadError,
    SignalEncoder,
    decode_signals,
    encode_signals,
    read_beats,
    read_window,
)

RECORDS = Path(__file__).resolve().parents[1] / "data" / "ecg-records"
NAMES = ("mitdb_100", "mitdb_105", "mitdb_200", "svdb_800")
# Bytes per sample of the former single-stream codec (one zlib stream for the whole ECG), each
# record's `signal` encoded as one int32 lead: the "old B/sample" column of `python bench/compression.py`.
OLD_BYTES_PER_SAMPLE = {"mitdb_100": 0.5073, "mitdb_105": 0.5214, "mitdb_200": 0.5404, "svdb_800": 0.5616}

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
INT32 = st.one_of(
    st.sampled_from([INT32_MIN, INT32_MAX, 0, -1, 1]), st.integers(min_value=INT32_MIN, max_value=INT32_MAX)
)
SIGNALS = st.lists(st.lists(INT32, min_size=1, max_size=120), min_size=1, max_size=4)
SMALL_BLOCKS = st.integers(min_value=1, max_value=17)
BEATS = st.lists(st.integers(min_value=0, max_value=2**40), max_size=60).map(sorted)


class Ranges:
    """A read_range over an in-memory object that records every read."""

    def __init__(self, payload: bytes) -> None:
        self.payload = payload
        self.reads: list[tuple[int, int]] = []

    def __call__(self, offset: int, length: int) -> bytes:
        self.reads.append((offset, length))
        return self.payload[offset : offset + length]

    @property
    def fetched(self) -> int:
        return sum(length for _, length in self.reads)


def _arrays(signals: list[list[int]]) -> list[np.ndarray]:
    return [np.array(signal, dtype=np.int32) for signal in signals]


def _lists(signals: list[np.ndarray]) -> list[list[int]]:
    return [signal.tolist() for signal in signals]


@cache
def _record(name: str) -> np.ndarray:
    signal: np.ndarray = np.load(RECORDS / f"{name}.npz")["signal"]
    return signal


@given(SIGNALS, SMALL_BLOCKS)
def test_signals_round_trip_exactly_across_block_boundaries(
    signals: list[list[int]], block_samples: int
) -> None:
    payload, _ = encode_signals(_arrays(signals), block_samples=block_samples)
    assert _lists(decode_signals(payload)) == signals


@given(SIGNALS)
def test_signals_round_trip_exactly_at_the_real_block_size(signals: list[list[int]]) -> None:
    assert _lists(decode_signals(encode_signals(_arrays(signals))[0])) == signals


@pytest.mark.parametrize(
    "samples", [BLOCK_SAMPLES - 1, BLOCK_SAMPLES, BLOCK_SAMPLES + 1, 3 * BLOCK_SAMPLES + 17]
)
def test_leads_longer_than_a_block_round_trip_exactly(samples: int) -> None:
    rng = np.random.default_rng(samples)
    signals = [
        rng.integers(INT32_MIN, INT32_MAX, size=samples, endpoint=True, dtype=np.int64).astype(np.int32),
        np.cumsum(rng.integers(-40, 40, size=samples + 5)).astype(np.int32),
    ]
    decoded = decode_signals(encode_signals(signals)[0])
    assert all(np.array_equal(got, want) for got, want in zip(decoded, signals, strict=True))


def test_alternating_int32_extremes_round_trip_exactly() -> None:
    signal = np.tile(np.array([INT32_MIN, INT32_MAX, 0, INT32_MAX, INT32_MIN], dtype=np.int32), 30000)
    assert np.array_equal(decode_signals(encode_signals([signal])[0])[0], signal)


@pytest.mark.parametrize("dtype", ["int8", "int16", "uint16", "int64", "uint32", "uint64"])
def test_any_integer_dtype_within_the_int32_range_is_encoded(dtype: str) -> None:
    signal = np.arange(0, 120, 3).astype(dtype)
    assert decode_signals(encode_signals([signal])[0])[0].tolist() == signal.tolist()


@pytest.mark.parametrize(
    "samples", [np.array([2**31]), np.array([-(2**31) - 1]), np.array([0.5]), np.zeros((2, 2))]
)
def test_samples_that_are_not_int32_integers_are_refused(samples: np.ndarray) -> None:
    with pytest.raises(ValueError):
        SignalEncoder(1).add(0, samples)


@st.composite
def streamed(draw: st.DrawFn) -> tuple[list[list[int]], int, list[tuple[int, list[int]]]]:
    """Signals, a block size and (lead, chunk) additions: arbitrary chunks, leads interleaved at will."""
    signals = draw(SIGNALS)
    chunks = []
    for signal in signals:
        cuts = sorted(draw(st.lists(st.integers(min_value=0, max_value=len(signal)), max_size=6)))
        bounds = [0, *cuts, len(signal)]
        chunks.append([signal[a:b] for a, b in itertools.pairwise(bounds)])
    turns = draw(st.permutations([lead for lead, pieces in enumerate(chunks) for _ in pieces]))
    position = [0] * len(signals)
    additions = []
    for lead in turns:
        additions.append((lead, chunks[lead][position[lead]]))
        position[lead] += 1
    return signals, draw(SMALL_BLOCKS), additions


@given(streamed())
def test_streaming_in_any_chunks_and_lead_order_decodes_to_the_same_signals(
    case: tuple[list[list[int]], int, list[tuple[int, list[int]]]],
) -> None:
    signals, block_samples, additions = case
    encoder = SignalEncoder(len(signals), block_samples=block_samples)
    parts = [encoder.add(lead, np.array(chunk, dtype=np.int64)) for lead, chunk in additions]
    payload = b"".join([*parts, encoder.finish()])
    assert _lists(decode_signals(payload)) == signals


def test_add_returns_nothing_until_a_block_is_complete() -> None:
    encoder = SignalEncoder(2, block_samples=100)
    assert encoder.add(0, np.arange(60)) == b""
    assert encoder.add(1, np.arange(99)) == b""
    assert encoder.add(0, np.arange(39)) == b""
    assert encoder.add(0, np.arange(1)) != b""


def test_a_chunk_spanning_several_blocks_returns_every_block_it_completes() -> None:
    encoder = SignalEncoder(1, block_samples=10)
    completed = encoder.add(0, np.arange(35))
    payload = completed + encoder.finish()
    entries = np.frombuffer(payload, dtype="<u8,<u4", count=1 + 4, offset=encoder.index_offset + 8)
    blocks = [(int(offset), int(size)) for offset, size in entries.tolist()[1:]]
    assert [offset + size for offset, size in blocks[:3]][-1] == len(completed) == blocks[3][0]


def test_the_returned_index_offset_is_where_the_index_starts() -> None:
    signals = [np.arange(25, dtype=np.int32), np.arange(7, dtype=np.int32)]
    payload, index_offset = encode_signals(signals, [np.array([3, 9]), None], block_samples=10)
    magic, version, leads, block_samples, trailer_offset = struct.unpack("<4sHHIQ", payload[-20:])
    assert (magic, version, leads, block_samples, trailer_offset) == (b"ECGB", 1, 2, 10, index_offset)
    assert np.frombuffer(payload, dtype="<u8", count=2, offset=index_offset).tolist() == [25, 7]
    entries = (1 + 3) + (1 + 1)
    assert len(payload) == index_offset + 2 * 8 + entries * ENTRY_SIZE + 20


def test_the_encoder_refuses_additions_after_finish() -> None:
    encoder = SignalEncoder(1)
    encoder.add(0, np.arange(5))
    encoder.finish()
    with pytest.raises(RuntimeError):
        encoder.add(0, np.arange(5))


def test_the_index_offset_is_unknown_before_finish() -> None:
    with pytest.raises(RuntimeError):
        _ = SignalEncoder(1).index_offset


@given(
    SIGNALS,
    SMALL_BLOCKS,
    st.integers(min_value=0, max_value=3),
    st.integers(min_value=0, max_value=130),
    st.integers(min_value=0, max_value=130),
)
def test_read_window_equals_slicing_the_whole_signal(
    signals: list[list[int]], block_samples: int, lead: int, start: int, count: int
) -> None:
    lead %= len(signals)
    payload, index_offset = encode_signals(_arrays(signals), block_samples=block_samples)
    lengths = [len(signal) for signal in signals]
    window = read_window(
        Ranges(payload), index_offset, lengths, lead, start, count, block_samples=block_samples
    )
    assert window.dtype == np.int32
    assert window.tolist() == signals[lead][start : start + count]


@given(SIGNALS, SMALL_BLOCKS, st.integers(min_value=0, max_value=3), st.data())
def test_read_window_makes_exactly_two_range_reads(
    signals: list[list[int]], block_samples: int, lead: int, data: st.DataObject
) -> None:
    lead %= len(signals)
    start = data.draw(st.integers(min_value=0, max_value=len(signals[lead]) - 1))
    count = data.draw(st.integers(min_value=1, max_value=130))
    payload, index_offset = encode_signals(_arrays(signals), block_samples=block_samples)
    ranges = Ranges(payload)
    read_window(
        ranges, index_offset, [len(s) for s in signals], lead, start, count, block_samples=block_samples
    )
    assert len(ranges.reads) == 2


def test_an_empty_window_reads_nothing() -> None:
    payload, index_offset = encode_signals([np.arange(10, dtype=np.int32)])
    ranges = Ranges(payload)
    assert read_window(ranges, index_offset, [10], 0, 10, 5).size == 0
    assert ranges.reads == []


def _long_interleaved_record() -> tuple[bytes, int, list[np.ndarray]]:
    """Three real leads of 2.6 M samples (the records tiled), arriving 10 s at a time, time-interleaved."""
    leads = [np.tile(_record(name), 4) for name in NAMES[:3]]
    encoder = SignalEncoder(len(leads))
    parts = [
        encoder.add(lead, signal[start : start + 3600])
        for start in range(0, leads[0].size, 3600)
        for lead, signal in enumerate(leads)
    ]
    parts.append(encoder.finish())
    return b"".join(parts), encoder.index_offset, leads


def test_a_10_s_window_of_a_long_record_fetches_a_small_part_of_the_object() -> None:
    payload, index_offset, leads = _long_interleaved_record()
    ranges = Ranges(payload)
    start = 7 * BLOCK_SAMPLES - 1800  # straddles a block boundary: the costliest 10 s
    window = read_window(ranges, index_offset, [lead.size for lead in leads], 1, start, 3600)
    assert np.array_equal(window, leads[1][start : start + 3600])
    assert ranges.fetched < len(payload) / 20


def test_a_window_inside_one_block_fetches_only_that_block() -> None:
    signals = [np.arange(1000, dtype=np.int32) * 7, np.arange(1000, dtype=np.int32) * -3]
    payload, index_offset = encode_signals(signals, block_samples=100)
    ranges = Ranges(payload)
    read_window(ranges, index_offset, [1000, 1000], 1, 420, 50, block_samples=100)
    (_, entry_length), (block_offset, block_length) = ranges.reads
    assert entry_length == ENTRY_SIZE
    assert payload[block_offset : block_offset + 6] == struct.pack("<HI", 1, 4)  # lead 1, block 4
    assert block_length < len(payload) / 15


def test_reading_a_window_of_2500_samples_takes_well_under_5_ms() -> None:
    payload, index_offset, leads = _long_interleaved_record()
    lengths = [lead.size for lead in leads]
    rng = np.random.default_rng(5)
    times = []
    for start in rng.integers(0, lengths[0] - 2500, size=20).tolist():
        began = time.perf_counter()
        read_window(Ranges(payload), index_offset, lengths, 2, start, 2500)
        times.append(time.perf_counter() - began)
    assert statistics.median(times) < 0.005


def test_a_window_read_with_wrong_lead_lengths_is_reported_as_corrupt() -> None:
    signals = [np.arange(500, dtype=np.int32), np.arange(500, dtype=np.int32)]
    payload, index_offset = encode_signals(signals, block_samples=100)
    with pytest.raises(CorruptPayloadError):
        read_window(Ranges(payload), index_offset, [300, 500], 1, 0, 50, block_samples=100)


def test_a_range_reader_returning_too_few_bytes_is_reported_as_corrupt() -> None:
    payload, index_offset = encode_signals([np.arange(500, dtype=np.int32)], block_samples=100)
    with pytest.raises(CorruptPayloadError):
        read_window(
            lambda offset, length: payload[offset : offset + length - 1], index_offset, [500], 0, 0, 50
        )


@given(SIGNALS, SMALL_BLOCKS, st.data())
def test_beats_round_trip_exactly(signals: list[list[int]], block_samples: int, data: st.DataObject) -> None:
    beats = [data.draw(st.one_of(st.none(), BEATS)) for _ in signals]
    stored = [None if lead_beats is None else np.array(lead_beats, dtype=np.int64) for lead_beats in beats]
    payload, index_offset = encode_signals(_arrays(signals), stored, block_samples=block_samples)
    lengths = [len(signal) for signal in signals]
    read = [
        read_beats(Ranges(payload), index_offset, lengths, lead, block_samples=block_samples)
        for lead in range(len(signals))
    ]
    assert [None if lead_beats is None else lead_beats.tolist() for lead_beats in read] == beats
    assert _lists(decode_signals(payload)) == signals


def test_a_lead_without_beats_reads_none_in_one_range_read() -> None:
    payload, index_offset = encode_signals([np.arange(10, dtype=np.int32)])
    ranges = Ranges(payload)
    assert read_beats(ranges, index_offset, [10], 0) is None
    assert len(ranges.reads) == 1


def test_empty_beats_read_back_as_an_empty_array_in_two_range_reads() -> None:
    payload, index_offset = encode_signals([np.arange(10, dtype=np.int32)], [np.array([], dtype=np.int64)])
    ranges = Ranges(payload)
    beats = read_beats(ranges, index_offset, [10], 0)
    assert beats is not None and beats.dtype == np.int64 and beats.size == 0
    assert len(ranges.reads) == 2


def test_real_beats_take_under_two_bytes_each() -> None:
    beats = np.load(RECORDS / "mitdb_100.npz")["beats"]
    signal = _record("mitdb_100")
    with_beats, _ = encode_signals([signal], [beats])
    without, _ = encode_signals([signal])
    assert len(with_beats) - len(without) < 2 * beats.size


@pytest.mark.parametrize("beats", [np.array([5, 3]), np.array([-1, 4]), np.array([[1, 2]]), np.array([1.5])])
def test_beats_that_are_not_ascending_non_negative_indices_are_refused(beats: np.ndarray) -> None:
    with pytest.raises(ValueError):
        SignalEncoder(1).set_beats(0, beats)


@settings(max_examples=50)
@given(SIGNALS, SMALL_BLOCKS, st.data())
def test_a_truncated_object_is_reported_as_corrupt(
    signals: list[list[int]], block_samples: int, data: st.DataObject
) -> None:
    payload, _ = encode_signals(
        _arrays(signals), [np.array([1, 2])] * len(signals), block_samples=block_samples
    )
    cut = data.draw(st.integers(min_value=0, max_value=len(payload) - 1))
    with pytest.raises(CorruptPayloadError):
        decode_signals(payload[:cut])


@pytest.mark.parametrize(
    "payload",
    [
        b"",
        b"ECGB",
        b"ECG1\x01\x00\x05\x00\x00\x00\x01\x01garbage",  # the former codec's layout
        bytes(range(256)) * 3,
        struct.pack("<4sHHIQ", b"ECGB", 1, 1, 10, 0),  # a trailer with no index
        struct.pack("<4sHHIQ", b"ECGB", 2, 0, 10, 0),  # an unknown version
        struct.pack("<Q", 2**60) + bytes(12) + struct.pack("<4sHHIQ", b"ECGB", 1, 1, 2**31, 0),  # huge lead
    ],
)
def test_foreign_bytes_are_reported_as_corrupt(payload: bytes) -> None:
    with pytest.raises(CorruptPayloadError):
        decode_signals(payload)


@given(st.binary(max_size=300))
def test_random_bytes_are_reported_as_corrupt(payload: bytes) -> None:
    with pytest.raises(CorruptPayloadError):
        decode_signals(payload)


@given(SIGNALS, SMALL_BLOCKS, st.data())
def test_an_altered_object_decodes_or_is_reported_as_corrupt_never_another_error(
    signals: list[list[int]], block_samples: int, data: st.DataObject
) -> None:
    payload, index_offset = encode_signals(
        _arrays(signals), [np.array([4, 8])] * len(signals), block_samples=block_samples
    )
    position = data.draw(st.integers(min_value=0, max_value=len(payload) - 1))
    altered = bytearray(payload)
    altered[position] ^= data.draw(st.integers(min_value=1, max_value=255))
    lengths = [len(signal) for signal in signals]
    lead = data.draw(st.integers(min_value=0, max_value=len(signals) - 1))
    with contextlib.suppress(CorruptPayloadError):
        decode_signals(bytes(altered))
    with contextlib.suppress(CorruptPayloadError):
        read_window(Ranges(bytes(altered)), index_offset, lengths, lead, 0, 200, block_samples=block_samples)
    with contextlib.suppress(CorruptPayloadError):
        read_beats(Ranges(bytes(altered)), index_offset, lengths, lead, block_samples=block_samples)


@pytest.mark.parametrize("name", NAMES)
def test_real_records_compress_within_3_percent_of_the_former_codec(name: str) -> None:
    signal = _record(name)
    payload, _ = encode_signals([signal])
    assert len(payload) / signal.size <= 1.03 * OLD_BYTES_PER_SAMPLE[name]


def test_a_smooth_signal_packs_below_one_byte_per_sample() -> None:
    time_s = np.arange(5000) / 500
    signal = np.round(800 * np.sin(2 * np.pi * 1.2 * time_s)).astype(np.int32)
    assert len(encode_signals([signal])[0]) < signal.size


def test_the_encoder_counts_the_samples_each_lead_was_given():
    encoder = SignalEncoder(2)
    encoder.add(0, np.arange(70_000, dtype=np.int32))
    encoder.add(1, np.arange(10, dtype=np.int16))
    encoder.add(0, np.arange(5, dtype=np.int64))
    assert encoder.lead_lengths == [70_005, 10]
