"""Signals to compact bytes and back, losslessly, with NumPy.

Per lead: wrapping int32 differences of order 1 or 2 (whichever is smaller for that lead),
stored in the narrowest integer width that holds them, split into byte planes, and the whole
ECG deflated once. ECG samples move slowly, so most differences fit one byte and the high
planes are nearly constant, which is what deflate compresses best.

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
_WIDTHS = (np.dtype(np.int8), np.dtype(np.int16), np.dtype(np.int32))
COMPRESSION_LEVEL = 6


class CorruptPayloadError(ValueError):
    """Stored bytes that this codec did not write."""


def _differences(signal: np.ndarray, order: int) -> np.ndarray:
    values = signal.astype(np.int32, copy=False)
    for _ in range(order):
        values = np.diff(values, prepend=np.int32(0))
    return values


def _narrowest(values: np.ndarray) -> np.dtype:
    low, high = int(values.min()), int(values.max())
    for dtype in _WIDTHS:
        info = np.iinfo(dtype)
        if info.min <= low and high <= info.max:
            return dtype
    return _WIDTHS[-1]


def _byte_planes(values: np.ndarray) -> bytes:
    return values.view(np.uint8).reshape(-1, values.itemsize).T.tobytes()


def encode_signals(signals: list[np.ndarray]) -> bytes:
    header = [_HEADER.pack(MAGIC, len(signals))]
    planes = []
    with np.errstate(over="ignore"):
        for signal in signals:
            first, second = _differences(signal, 1), _differences(signal, 2)
            order, values = (1, first)
            if np.abs(second.astype(np.int64)).sum() < np.abs(first.astype(np.int64)).sum():
                order, values = (2, second)
            dtype = _narrowest(values)
            header.append(_LEAD.pack(signal.size, order, dtype.itemsize))
            planes.append(_byte_planes(values.astype(dtype.newbyteorder("<"))))
    return b"".join(header) + zlib.compress(b"".join(planes), COMPRESSION_LEVEL)


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
        raw = np.frombuffer(planes[position : position + size], dtype=np.uint8)
        position += size
        dtype = np.dtype(f"<i{width}")
        values = raw.reshape(width, samples).T.copy().view(dtype).reshape(samples).astype(np.int32)
        for _ in range(order):
            values = np.cumsum(values, dtype=np.int32)
        signals.append(values)
    return signals
