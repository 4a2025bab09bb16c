"""An ECG's signals as one byte string (an S3 object) of independently decodable blocks with an index.

Why blocks: a viewer asks for ten seconds of one lead out of a 24-hour recording. Each lead is cut
into blocks of `BLOCK_SAMPLES` samples (the last one shorter) and every block decodes alone, so a
window costs the one or two blocks that hold it, whatever the recording's length. Blocks also let
an upload be encoded as it streams in: memory stays one pending block per lead.

Why an index: blocks are written in the order they are completed, which is whatever interleaving
of leads the source file has (EDF gives leads time-interleaved, JSON one lead after the other),
so a block's place cannot be computed; the index, written after the data, records it. Its entries
have a fixed size and a fixed order (per lead in lead order: the beats entry, then the blocks in
block order), so the entries of any run of blocks are one contiguous range whose position follows
from the index offset and the leads' sample counts alone. Reading a window is then two range
reads: those entries, then the bytes from the lowest block offset to the highest block end.

Per block, the scheme of the former single-stream codec: wrapping int32 differences of order 1 or
2, zigzag-mapped to unsigned (-1 -> 1, 1 -> 2, ...) so small steps of either sign become small
numbers, stored in the narrowest width that holds them (1, 2 or 4 bytes), split into byte planes
and raw-deflated with zlib's run-length strategy (the low plane is noise that only entropy coding
shrinks, the high planes are runs of zeros; string matching finds nothing in either). The order is
the one whose values need fewer bits, estimated as the sum of log2(1 + value): on real records
that picks the smaller deflated size where the plain sum did not. The block's first sample is kept
aside in its header, so the differences start from it and no block depends on another.

Layout, all little-endian:

    data region   blocks and beats sections, in the order they were completed
      block         header: uint16 lead, uint32 block number, int32 first sample, uint8 order,
                    uint8 width; then the raw deflate (wbits -15) of (samples - 1) * width bytes
      beats         header: uint32 beat count, uint8 width; then the raw deflate of the byte
                    planes of the differences of the beat indices (the first from 0)
    index         uint64 sample count per lead; then per lead the beats entry and one entry per
                  block, each (uint64 offset, uint32 size); a lead without beats has size 0
    trailer       4s magic b"ECGB", uint16 version, uint16 lead count, uint32 block samples,
                  uint64 index offset

`block_samples` keyword arguments exist for tests (small blocks exercise the boundaries);
an object records its block size in the trailer, and readers must be given the same one.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable

import numpy as np

BLOCK_SAMPLES = 65536
MAGIC = b"ECGB"
VERSION = 1
MAX_LEADS = 2**16 - 1

_BLOCK = struct.Struct("<HIiBB")
_BEATS = struct.Struct("<IB")
_TRAILER = struct.Struct("<4sHHIQ")
_COUNT = np.dtype("<u8")
_ENTRY = np.dtype([("offset", "<u8"), ("size", "<u4")])
ENTRY_SIZE = _ENTRY.itemsize  # 12
_SIGNAL_WIDTHS = (1, 2, 4)
_BEAT_WIDTHS = (1, 2, 4, 8)
_MAX_INFLATION = 1032  # deflate's largest expansion: 258 bytes from 2 bits

ReadRange = Callable[[int, int], bytes]


class CorruptPayloadError(ValueError):
    """Stored bytes that this codec did not write, or that were cut short or altered."""


# ---------------------------------------------------------------- blocks


def _zigzag(values: np.ndarray) -> np.ndarray:
    return ((values << 1) ^ (values >> 31)).view(np.uint32)


def _undo_zigzag(values: np.ndarray) -> np.ndarray:
    return ((values >> 1) ^ (0 - (values & 1))).view(np.int32)


def _width(largest: int, widths: tuple[int, ...]) -> int:
    return next(width for width in widths if largest < 2 ** (8 * width))


def _planes(values: np.ndarray, width: int) -> bytes:
    """Byte planes of unsigned values: all low bytes, then all second bytes, ..."""
    if width == 1:
        return values.astype(np.uint8).tobytes()
    narrow = values.astype(np.dtype(f"<u{width}"))
    return narrow.view(np.uint8).reshape(-1, width).T.tobytes()


def _unplanes(raw: bytes, count: int, width: int, dtype: type[np.unsignedinteger]) -> np.ndarray:
    planes = np.frombuffer(raw, dtype=np.uint8).reshape(width, count)
    values: np.ndarray = planes[0].astype(dtype)
    for shift in range(1, width):
        values |= planes[shift].astype(dtype) << dtype(8 * shift)
    return values


def _deflate(data: bytes, strategy: int) -> bytes:
    compressor = zlib.compressobj(6, zlib.DEFLATED, -15, 9, strategy)
    return compressor.compress(data) + compressor.flush()


def _inflate(data: bytes | memoryview, expected: int) -> bytes:
    """Exactly `expected` bytes from one complete raw deflate stream that fills `data`."""
    inflater = zlib.decompressobj(-15)
    try:
        raw = inflater.decompress(data, expected + 1)
    except zlib.error as error:
        raise CorruptPayloadError(f"bad deflate stream: {error}") from None
    if len(raw) != expected or not inflater.eof or inflater.unused_data:
        raise CorruptPayloadError("deflate stream of the wrong size")
    return raw


def _bits(values: np.ndarray) -> float:
    """About the bits the values need: a closer guess of their deflated size than their sum."""
    return float(np.log2(values.astype(np.float32) + np.float32(1)).sum(dtype=np.float64))


def _encode_block(lead: int, number: int, block: np.ndarray) -> bytes:
    with np.errstate(over="ignore"):
        steps = block[1:] - block[:-1]
        curvature = steps.copy()
        curvature[1:] -= steps[:-1]
        first, second = _zigzag(steps), _zigzag(curvature)
        order, values = (2, second) if _bits(second) < _bits(first) else (1, first)
    width = _width(int(values.max()) if values.size else 0, _SIGNAL_WIDTHS)
    header = _BLOCK.pack(lead, number, int(block[0]), order, width)
    return header + _deflate(_planes(values, width), zlib.Z_RLE)


def _decode_block(data: bytes | memoryview, lead: int, number: int, out: np.ndarray) -> None:
    """Decode one block into `out`, whose length is the block's sample count."""
    if len(data) < _BLOCK.size:
        raise CorruptPayloadError("signal block shorter than its header")
    stored_lead, stored_number, first, order, width = _BLOCK.unpack_from(data)
    if (stored_lead, stored_number) != (lead, number):
        raise CorruptPayloadError(
            f"expected block {number} of lead {lead}, found block {stored_number} of lead {stored_lead}"
        )
    if order not in (1, 2) or width not in _SIGNAL_WIDTHS:
        raise CorruptPayloadError("unknown block order or width")
    steps = out.size - 1
    raw = _inflate(data[_BLOCK.size :], steps * width)
    values = _undo_zigzag(_unplanes(raw, steps, width, np.uint32))
    with np.errstate(over="ignore"):
        if order == 2:
            np.cumsum(values, dtype=np.int32, out=values)
        out[0] = first
        out[1:] = values
        np.cumsum(out, dtype=np.int32, out=out)


# ---------------------------------------------------------------- beats


def _checked_beats(beats: np.ndarray) -> np.ndarray:
    beats = np.asarray(beats)
    if beats.ndim != 1 or (beats.size and beats.dtype.kind not in "iu"):
        raise ValueError("beats must be a 1-D array of integer sample indices")
    if beats.size >= 2**32:
        raise ValueError("too many beats")
    if beats.size and (int(beats.min()) < 0 or int(beats.max()) >= 2**63):
        raise ValueError("beat indices must be non-negative int64 values")
    beats = beats.astype(np.uint64)
    if np.any(beats[1:] < beats[:-1]):
        raise ValueError("beat indices must be ascending")
    return beats


def _encode_beats(beats: np.ndarray) -> bytes:
    gaps = np.diff(beats, prepend=np.uint64(0))
    width = _width(int(gaps.max()) if gaps.size else 0, _BEAT_WIDTHS)
    return _BEATS.pack(gaps.size, width) + _deflate(_planes(gaps, width), zlib.Z_DEFAULT_STRATEGY)


def _decode_beats(data: bytes | memoryview) -> np.ndarray:
    if len(data) < _BEATS.size:
        raise CorruptPayloadError("beats section shorter than its header")
    count, width = _BEATS.unpack_from(data)
    if width not in _BEAT_WIDTHS:
        raise CorruptPayloadError("unknown beats width")
    raw = _inflate(data[_BEATS.size :], count * width)
    beats = np.cumsum(_unplanes(raw, count, width, np.uint64), dtype=np.uint64)
    # A wrapped sum is smaller than the one before it.
    if np.any(beats[1:] < beats[:-1]) or (beats.size and int(beats[-1]) >= 2**63):
        raise CorruptPayloadError("beat indices out of range")
    return beats.astype(np.int64)


# ---------------------------------------------------------------- writing


def _as_int32(samples: np.ndarray) -> np.ndarray:
    samples = np.asarray(samples)
    if samples.ndim != 1:
        raise ValueError("samples must be a 1-D array")
    if samples.dtype == np.int32:
        return samples
    if samples.size and samples.dtype.kind not in "iu":
        raise ValueError(f"samples must be integers, not {samples.dtype}")
    fits = samples.dtype.itemsize < 4 or (samples.dtype.itemsize == 4 and samples.dtype.kind == "i")
    if not fits and samples.size and (int(samples.min()) < -(2**31) or int(samples.max()) >= 2**31):
        raise ValueError("samples must be within the int32 range")
    return samples.astype(np.int32)


class SignalEncoder:
    """Streaming: memory stays bounded by one pending block per lead, whatever the recording's length.

    Append the bytes every `add` returns, then those of `finish`, in call order: that is the object.
    """

    def __init__(self, lead_count: int, *, block_samples: int = BLOCK_SAMPLES) -> None:
        if not 0 < lead_count <= MAX_LEADS:
            raise ValueError(f"lead count must be within 1..{MAX_LEADS}")
        if not 0 < block_samples < 2**32:
            raise ValueError("block size must be positive and fit in 32 bits")
        self._block_samples = block_samples
        self._pending: list[np.ndarray | None] = [None] * lead_count
        self._filled = [0] * lead_count
        self._lengths = [0] * lead_count
        self._blocks: list[list[tuple[int, int]]] = [[] for _ in range(lead_count)]
        self._beats: list[bytes | None] = [None] * lead_count
        self._position = 0
        self._index_offset: int | None = None

    def _check(self, lead: int) -> None:
        if self._index_offset is not None:
            raise RuntimeError("the encoder is finished")
        if not 0 <= lead < len(self._lengths):
            raise ValueError(f"no lead {lead} among {len(self._lengths)}")

    def _emit(self, lead: int, block: np.ndarray) -> bytes:
        encoded = _encode_block(lead, len(self._blocks[lead]), block)
        self._blocks[lead].append((self._position, len(encoded)))
        self._position += len(encoded)
        return encoded

    def add(self, lead: int, samples: np.ndarray) -> bytes:
        """Append samples (any integer dtype, int32 range) to a lead; the blocks this completes."""
        self._check(lead)
        values = _as_int32(samples)
        self._lengths[lead] += values.size
        size = self._block_samples
        completed = []
        position = 0
        if self._filled[lead]:
            pending = self._pending[lead]
            assert pending is not None
            filled = self._filled[lead]
            position = min(size - filled, values.size)
            pending[filled : filled + position] = values[:position]
            self._filled[lead] = filled + position
            if self._filled[lead] < size:
                return b""
            completed.append(self._emit(lead, pending))
            self._filled[lead] = 0
        while values.size - position >= size:
            completed.append(self._emit(lead, values[position : position + size]))
            position += size
        rest = values.size - position
        if rest:
            pending = self._pending[lead]
            if pending is None:
                pending = self._pending[lead] = np.empty(size, dtype=np.int32)
            pending[:rest] = values[position:]
            self._filled[lead] = rest
        return b"".join(completed)

    def set_beats(self, lead: int, beats: np.ndarray) -> None:
        """Store the lead's beat sample indices (ascending, non-negative; may be empty)."""
        self._check(lead)
        self._beats[lead] = _encode_beats(_checked_beats(beats))

    def finish(self) -> bytes:
        """The remaining partial blocks, the beats sections, the index and the trailer."""
        if self._index_offset is not None:
            raise RuntimeError("the encoder is finished")
        parts = []
        for lead, filled in enumerate(self._filled):
            pending = self._pending[lead]
            if filled and pending is not None:
                parts.append(self._emit(lead, pending[:filled]))
            self._pending[lead] = None
        beats_entries = []
        for section in self._beats:
            beats_entries.append((self._position if section else 0, len(section) if section else 0))
            if section:
                parts.append(section)
                self._position += len(section)
        self._beats = [None] * len(self._beats)
        entries = [
            entry for lead, blocks in enumerate(self._blocks) for entry in [beats_entries[lead], *blocks]
        ]
        self._index_offset = self._position
        parts.append(np.array(self._lengths, dtype=_COUNT).tobytes())
        parts.append(np.array(entries, dtype=_ENTRY).tobytes())
        parts.append(_TRAILER.pack(MAGIC, VERSION, len(self._lengths), self._block_samples, self._position))
        return b"".join(parts)

    @property
    def lead_lengths(self) -> list[int]:
        """How many samples each lead has been given so far."""
        return list(self._lengths)

    @property
    def index_offset(self) -> int:
        """Where the index starts in the object; known once `finish` has run."""
        if self._index_offset is None:
            raise RuntimeError("the index offset is known after finish()")
        return self._index_offset


def encode_signals(
    signals: list[np.ndarray],
    beats: list[np.ndarray | None] | None = None,
    *,
    block_samples: int = BLOCK_SAMPLES,
) -> tuple[bytes, int]:
    """The whole object for these leads (and their beats, where given), and its index offset."""
    if beats is not None and len(beats) != len(signals):
        raise ValueError("one beats entry (or None) per lead")
    encoder = SignalEncoder(len(signals), block_samples=block_samples)
    parts = [encoder.add(lead, signal) for lead, signal in enumerate(signals)]
    for lead, lead_beats in enumerate(beats or []):
        if lead_beats is not None:
            encoder.set_beats(lead, lead_beats)
    parts.append(encoder.finish())
    return b"".join(parts), encoder.index_offset


# ---------------------------------------------------------------- reading


def _block_count(samples: int, block_samples: int) -> int:
    return -(-samples // block_samples)


def _entries(data: bytes | memoryview, count: int) -> np.ndarray:
    if len(data) != count * ENTRY_SIZE:
        raise CorruptPayloadError("index cut short")
    return np.frombuffer(data, dtype=_ENTRY, count=count)


def _check_inside(entries: np.ndarray, limit: int) -> None:
    offsets, sizes = entries["offset"], entries["size"]
    if np.any(offsets > limit) or np.any(sizes > np.uint64(limit) - np.minimum(offsets, limit)):
        raise CorruptPayloadError("index entry outside the data region")


def decode_signals(payload: bytes) -> list[np.ndarray]:
    """Every lead, as int32, from the whole object."""
    data = memoryview(payload)
    if len(data) < _TRAILER.size:
        raise CorruptPayloadError("too short for a signal object")
    magic, version, lead_count, block_samples, index_offset = _TRAILER.unpack_from(
        data, len(data) - _TRAILER.size
    )
    if magic != MAGIC or version != VERSION:
        raise CorruptPayloadError("unknown signal encoding")
    if block_samples == 0 or index_offset + lead_count * _COUNT.itemsize > len(data) - _TRAILER.size:
        raise CorruptPayloadError("inconsistent signal trailer")
    lengths = [int(n) for n in np.frombuffer(data, dtype=_COUNT, count=lead_count, offset=index_offset)]
    counts = [_block_count(n, block_samples) for n in lengths]
    entries_offset = index_offset + lead_count * _COUNT.itemsize
    entries = _entries(data[entries_offset : len(data) - _TRAILER.size], sum(counts) + lead_count)
    _check_inside(entries, index_offset)
    table: list[tuple[int, int]] = entries.tolist()
    signals, position = [], 0
    for lead, (samples, blocks) in enumerate(zip(lengths, counts, strict=True)):
        located = table[position + 1 : position + 1 + blocks]
        position += 1 + blocks
        # Deflate expands at most 1032-fold: refuse counts no stored block could hold before allocating.
        if samples > sum(1 + _MAX_INFLATION * size for _, size in located):
            raise CorruptPayloadError("sample count larger than its blocks can hold")
        signal = np.empty(samples, dtype=np.int32)
        for number, (offset, size) in enumerate(located):
            start = number * block_samples
            _decode_block(data[offset : offset + size], lead, number, signal[start : start + block_samples])
        signals.append(signal)
    return signals


def _first_entry(lead_lengths: list[int], lead: int, block_samples: int) -> int:
    """Position, in entries, of a lead's beats entry; its blocks' entries follow."""
    if not 0 <= lead < len(lead_lengths):
        raise ValueError(f"no lead {lead} among {len(lead_lengths)}")
    if any(samples < 0 for samples in lead_lengths):
        raise ValueError("lead lengths cannot be negative")
    return sum(1 + _block_count(samples, block_samples) for samples in lead_lengths[:lead])


def _read(read_range: ReadRange, offset: int, length: int) -> bytes:
    data = read_range(offset, length)
    if len(data) != length:
        raise CorruptPayloadError(f"asked for {length} bytes at {offset}, got {len(data)}")
    return data


def read_window(
    read_range: ReadRange,
    index_offset: int,
    lead_lengths: list[int],
    lead: int,
    start: int,
    count: int,
    *,
    block_samples: int = BLOCK_SAMPLES,
) -> np.ndarray:
    """Samples [start, start + count) of one lead, cut at the lead's end, as int32.

    Two range reads: the index entries of the blocks needed, then the bytes spanning those
    blocks (other leads' blocks in between are fetched and ignored). An empty window reads nothing.
    """
    if start < 0 or count < 0:
        raise ValueError("start and count cannot be negative")
    first_entry = _first_entry(lead_lengths, lead, block_samples)
    stop = min(start + count, lead_lengths[lead])
    if start >= stop:
        return np.empty(0, dtype=np.int32)
    first, last = start // block_samples, (stop - 1) // block_samples
    entries_offset = (
        index_offset + len(lead_lengths) * _COUNT.itemsize + (first_entry + 1 + first) * ENTRY_SIZE
    )
    blocks = last - first + 1
    entries = _entries(_read(read_range, entries_offset, blocks * ENTRY_SIZE), blocks)
    _check_inside(entries, index_offset)
    low = int(entries["offset"].min())
    high = int((entries["offset"] + entries["size"]).max())
    span = memoryview(_read(read_range, low, high - low))
    window = np.empty(
        min((last + 1) * block_samples, lead_lengths[lead]) - first * block_samples, dtype=np.int32
    )
    for number, (offset, size) in enumerate(entries.tolist()):
        at = number * block_samples
        _decode_block(
            span[offset - low : offset - low + size], lead, first + number, window[at : at + block_samples]
        )
    begin = start - first * block_samples
    return window[begin : begin + stop - start].copy()


def read_beats(
    read_range: ReadRange,
    index_offset: int,
    lead_lengths: list[int],
    lead: int,
    *,
    block_samples: int = BLOCK_SAMPLES,
) -> np.ndarray | None:
    """The lead's stored beats as int64, or None when none were stored: at most two range reads."""
    first_entry = _first_entry(lead_lengths, lead, block_samples)
    entry_offset = index_offset + len(lead_lengths) * _COUNT.itemsize + first_entry * ENTRY_SIZE
    entries = _entries(_read(read_range, entry_offset, ENTRY_SIZE), 1)
    _check_inside(entries, index_offset)
    offset, size = (int(value) for value in entries[0])
    if size == 0:
        return None
    return _decode_beats(_read(read_range, offset, size))
