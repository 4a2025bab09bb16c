from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.ecg.codec import CorruptPayloadError, decode_signals, encode_signals

INT32 = st.integers(min_value=-(2**31), max_value=2**31 - 1)
SIGNALS = st.lists(st.lists(INT32, min_size=1, max_size=200), min_size=1, max_size=5)


def _arrays(signals: list[list[int]]) -> list[np.ndarray]:
    return [np.array(signal, dtype=np.int32) for signal in signals]


@given(SIGNALS)
def test_signals_round_trip_exactly(signals: list[list[int]]):
    decoded = decode_signals(encode_signals(_arrays(signals)))
    assert [signal.tolist() for signal in decoded] == signals


@given(st.lists(st.sampled_from([-(2**31), 2**31 - 1, 0, -1, 1]), min_size=1, max_size=500))
def test_int32_extremes_round_trip_exactly(signal: list[int]):
    assert decode_signals(encode_signals(_arrays([signal])))[0].tolist() == signal


def test_smooth_signal_packs_below_one_byte_per_sample():
    time = np.arange(5000) / 500
    signal = np.round(800 * np.sin(2 * np.pi * 1.2 * time)).astype(np.int32)
    assert len(encode_signals([signal])) < signal.size


@pytest.mark.parametrize("payload", [b"", b"ECG0\x01\x00", b"ECG1\x01\x00\x05\x00\x00\x00\x01\x01garbage"])
def test_foreign_bytes_are_reported_as_corrupt(payload: bytes):
    with pytest.raises(CorruptPayloadError):
        decode_signals(payload)
