"""Signals to compact bytes and back, losslessly, with NumPy.

Per lead: wrapping int32 differences of order 1 or 2 (whichever is smaller for that lead),
zigzag-mapped to unsigned (-1 -> 1, 1 -> 2, ...) so small steps of either sign become small
numbers, stored in the narrowest width that holds them (1, 2 or 4 bytes) and split into byte
planes. The planes of every lead are then deflated once with zlib's run-length strategy: the
low plane is noise that only entropy coding can shrink, the high planes are runs of zeros,
and string matching (deflate's expensive part) finds nothing in either.

Layout: magic b"ECG1", uint16 lead count, then per lead uint32 samples, uint8 order,
uint8 width; then the deflated planes of every lead, in lead order.
"""

from __future__ import annotations

import struct
import zlib

import numpy as np

MAGIC = b"ECG1"
_HEADER = struct.Struct("<4sH")
_LEAD = struct.Struct("<IBB")
_WIDTHS: dict[int, np.dtype[np.unsignedinteger]] = {
    1: np.dtype("<u1"),
    2: np.dtype("<u2"),
    4: np.dtype("<u4"),
}


class CorruptPayloadError(ValueError):
    """Stored bytes that this codec did not write."""


def _zigzag(values: np.ndarray) -> np.ndarray:
    return ((values << 1) ^ (values >> 31)).view(np.uint32)


def _zigzag_differences(signal: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """First and second wrapping differences, the second taken from the first."""
    first = np.diff(signal.astype(np.int32, copy=False), prepend=np.int32(0))
    second = np.diff(first, prepend=np.int32(0))
    return _zigzag(first), _zigzag(second)


def _width(values: np.ndarray) -> int:
    largest = int(values.max())
    return 1 if largest < 2**8 else 2 if largest < 2**16 else 4


def _byte_planes(values: np.ndarray, width: int) -> bytes:
    narrow = values.astype(_WIDTHS[width])
    return narrow.view(np.uint8).reshape(-1, width).T.tobytes() if width > 1 else narrow.tobytes()


def encode_signals(signals: list[np.ndarray]) -> bytes:
    header = [_HEADER.pack(MAGIC, len(signals))]
    compressor = zlib.compressobj(6, zlib.DEFLATED, 15, 9, zlib.Z_RLE)
    planes = []
    with np.errstate(over="ignore"):
        for signal in signals:
            first, second = _zigzag_differences(signal)
            order, values = (
                (2, second) if second.sum(dtype=np.uint64) < first.sum(dtype=np.uint64) else (1, first)
            )
            width = _width(values)
            header.append(_LEAD.pack(signal.size, order, width))
            planes.append(compressor.compress(_byte_planes(values, width)))
    planes.append(compressor.flush())
    return b"".join(header + planes)


def _undo_zigzag(values: np.ndarray) -> np.ndarray:
    return ((values >> 1) ^ (0 - (values & 1))).view(np.int32)


def decode_signals(payload: bytes) -> list[np.ndarray]:
    try:
        magic, lead_count = _HEADER.unpack_from(payload)
        if magic != MAGIC:
            raise CorruptPayloadError("unknown signal encoding")
        offset = _HEADER.size
        leads = []
        for _ in range(lead_count):
            leads.append(_LEAD.unpack_from(payload, offset))
            offset += _LEAD.size
        planes = memoryview(zlib.decompress(payload[offset:]))
    except (struct.error, zlib.error) as error:
        raise CorruptPayloadError(str(error)) from None
    signals, position = [], 0
    for samples, order, width in leads:
        size = samples * width
        if width not in _WIDTHS or position + size > len(planes):
            raise CorruptPayloadError("truncated or inconsistent signal payload")
        raw = np.frombuffer(planes[position : position + size], dtype=np.uint8)
        position += size
        narrow = raw.reshape(width, samples).T.copy().view(_WIDTHS[width]).reshape(samples)
        values = _undo_zigzag(narrow.astype(np.uint32))
        for _ in range(order):
            values = np.cumsum(values, dtype=np.int32)
        signals.append(values)
    return signals
