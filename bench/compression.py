"""`python bench/compression.py`: the blocked signal codec against the former single-stream one.

Per real record in tests/data/ecg-records (its `signal`, one int32 lead): bytes per sample of the
former codec (one zlib stream for the whole ECG; its encoder is copied below as the reference) and
of the blocked codec, their ratio, the blocked encoder's speed in MB of int32 samples per second,
and the median time of a 2,500-sample `read_window` over 20 runs at random starts. A last line
streams three long leads (the records tiled to 21.6 M samples, a day at 250 Hz) in chunks.
"""

from __future__ import annotations

import statistics
import struct
import sys
import time
import zlib
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from chalicelib.ecg.codec import SignalEncoder, encode_signals, read_window  # noqa: E402

RECORDS = ROOT / "tests" / "data" / "ecg-records"
WINDOW = 2500
RUNS = 20
LONG_SAMPLES = 21_600_000
CHUNK = 7500


# ---------------------------------------------------------------- the former codec's encoder
# As it was in chalicelib/ecg/codec.py before the blocks, with type annotations added.

_OLD_HEADER = struct.Struct("<4sH")
_OLD_LEAD = struct.Struct("<IBB")
_OLD_WIDTHS: dict[int, np.dtype[np.unsignedinteger]] = {
    1: np.dtype("<u1"),
    2: np.dtype("<u2"),
    4: np.dtype("<u4"),
}


def _zigzag(values: np.ndarray) -> np.ndarray:
    return ((values << 1) ^ (values >> 31)).view(np.uint32)


def _zigzag_differences(
    signal: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """First and second wrapping differences, the second taken from the first."""
    first = np.diff(signal.astype(np.int32, copy=False), prepend=np.int32(0))
    second = np.diff(first, prepend=np.int32(0))
    return _zigzag(first), _zigzag(second)


def _width(values: np.ndarray) -> int:
    largest = int(values.max())
    return 1 if largest < 2**8 else 2 if largest < 2**16 else 4


def _byte_planes(values: np.ndarray, width: int) -> bytes:
    narrow = values.astype(_OLD_WIDTHS[width])
    return narrow.view(np.uint8).reshape(-1, width).T.tobytes() if width > 1 else narrow.tobytes()


def old_encode_signals(signals: list[np.ndarray]) -> bytes:
    header = [_OLD_HEADER.pack(b"ECG1", len(signals))]
    compressor = zlib.compressobj(6, zlib.DEFLATED, 15, 9, zlib.Z_RLE)
    planes = []
    with np.errstate(over="ignore"):
        for signal in signals:
            first, second = _zigzag_differences(signal)
            order, values = (
                (2, second) if second.sum(dtype=np.uint64) < first.sum(dtype=np.uint64) else (1, first)
            )
            width = _width(values)
            header.append(_OLD_LEAD.pack(signal.size, order, width))
            planes.append(compressor.compress(_byte_planes(values, width)))
    planes.append(compressor.flush())
    return b"".join(header + planes)


# ---------------------------------------------------------------- measurements


def _median_window_ms(payload: bytes, index_offset: int, lengths: list[int], lead: int) -> float:
    def read_range(offset: int, length: int) -> bytes:
        return payload[offset : offset + length]

    rng = np.random.default_rng(0)
    times = []
    for start in rng.integers(0, lengths[lead] - WINDOW, size=RUNS).tolist():
        began = time.perf_counter()
        read_window(read_range, index_offset, lengths, lead, start, WINDOW)
        times.append(time.perf_counter() - began)
    return 1000 * statistics.median(times)


def record_line(path: Path) -> tuple[str, int, int, int]:
    signal = np.load(path)["signal"].astype(np.int32)
    old = len(old_encode_signals([signal]))
    began = time.perf_counter()
    payload, index_offset = encode_signals([signal])
    seconds = time.perf_counter() - began
    window_ms = _median_window_ms(payload, index_offset, [signal.size], 0)
    line = (
        f"{path.stem:<12} {signal.size:>10,} {old / signal.size:>8.4f} {len(payload) / signal.size:>8.4f}"
        f" {len(payload) / old:>7.4f} {signal.nbytes / seconds / 1e6:>8.0f} {window_ms:>9.3f}"
    )
    return line, signal.size, old, len(payload)


def long_line(paths: list[Path]) -> str:
    leads = [np.resize(np.load(path)["signal"].astype(np.int32), LONG_SAMPLES) for path in paths[:3]]
    encoder = SignalEncoder(len(leads))
    parts = []
    began = time.perf_counter()
    for start in range(0, LONG_SAMPLES, CHUNK):
        for lead, signal in enumerate(leads):
            parts.append(encoder.add(lead, signal[start : start + CHUNK]))
    parts.append(encoder.finish())
    seconds = time.perf_counter() - began
    payload = b"".join(parts)
    samples = LONG_SAMPLES * len(leads)
    window_ms = _median_window_ms(payload, encoder.index_offset, [LONG_SAMPLES] * len(leads), 1)
    return (
        f"streamed {len(leads)} x {LONG_SAMPLES:,} samples in chunks of {CHUNK}: {seconds:.2f} s"
        f" ({4 * samples / seconds / 1e6:.0f} MB/s), {len(payload) / samples:.4f} B/sample,"
        f" window {window_ms:.3f} ms"
    )


def main() -> None:
    paths = sorted(RECORDS.glob("*.npz"))
    print(
        f"{'record':<12} {'samples':>10} {'old B/s':>8} {'new B/s':>8} {'new/old':>7}"
        f" {'enc MB/s':>8} {'window ms':>9}"
    )
    total_samples = total_old = total_new = 0
    for path in paths:
        line, samples, old, new = record_line(path)
        print(line)
        total_samples, total_old, total_new = total_samples + samples, total_old + old, total_new + new
    print(
        f"{'all':<12} {total_samples:>10,} {total_old / total_samples:>8.4f}"
        f" {total_new / total_samples:>8.4f} {total_new / total_old:>7.4f}"
    )
    print("(B/s: bytes per sample; enc MB/s: MB of int32 samples encoded per second;")
    print(f" window ms: median of {RUNS} read_window calls of {WINDOW} samples from memory)")
    print(long_line(paths))


if __name__ == "__main__":
    main()
