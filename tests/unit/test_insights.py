from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.ecg import rhythm
from chalicelib.ecg.insights import (
    CALCULATORS,
    RHYTHM_FIELDS,
    LeadStream,
    Values,
    compute_many,
    stale,
    zero_crossings,
)
from chalicelib.ecg.model import LeadInsights

INT32 = st.integers(min_value=-(2**31), max_value=2**31 - 1)


def compute(signal: np.ndarray, rate: float | None) -> tuple[Values, dict[str, int]]:
    """Every calculator's values of one lead, the whole lead at once."""
    return compute_many([signal], rate)[0]


def reference_zero_crossings(signal: list[int]) -> int:
    """API.md, literally: sign changes between consecutive non-zero samples."""
    non_zero = [sample for sample in signal if sample != 0]
    return sum(1 for left, right in itertools.pairwise(non_zero) if (left < 0) != (right < 0))


@pytest.mark.parametrize(
    ("signal", "expected"),
    [
        ([1, -1], 1),
        ([1, 0, -1], 1),
        ([1, 0, 1], 0),
        ([-1, 0, 0, 2, 3, -4], 2),
        ([0, 0], 0),
        ([5], 0),
    ],
)
def test_zero_crossings_match_the_examples_of_the_contract(signal: list[int], expected: int):
    assert zero_crossings(np.array(signal, dtype=np.int32)) == expected


@given(st.lists(INT32, min_size=1, max_size=300))
def test_zero_crossings_match_the_plain_python_reference(signal: list[int]):
    assert zero_crossings(np.array(signal, dtype=np.int32)) == reference_zero_crossings(signal)


@given(st.lists(st.sampled_from([-(2**31), -1, 0, 1, 2**31 - 1]), min_size=1, max_size=200))
def test_zero_crossings_do_not_overflow_at_the_int32_extremes(signal: list[int]):
    assert zero_crossings(np.array(signal, dtype=np.int32)) == reference_zero_crossings(signal)


def test_compute_gives_every_field_the_insights_response_has():
    values, versions = compute(np.array([1, -1], dtype=np.int32), 500.0)
    assert set(values) == set(LeadInsights.__struct_fields__) - {"name", "number_of_samples"}
    assert versions == {name: calculator.version for name, calculator in CALCULATORS.items()}


def test_rhythm_insights_are_null_without_a_sampling_rate():
    values, _ = compute(np.array([1, -1, 5, 200, -3], dtype=np.int32), None)
    assert [values[name] for name in RHYTHM_FIELDS] == [None] * len(RHYTHM_FIELDS)


def test_stale_lists_calculators_missing_or_of_another_version():
    current = {name: calculator.version for name, calculator in CALCULATORS.items()}
    assert stale({}) == list(CALCULATORS)
    assert stale(current) == []
    assert stale({**current, "rhythm": current["rhythm"] - 1}) == ["rhythm"]


def streamed(signal: np.ndarray, rate: float | None, cuts: list[int]) -> LeadStream:
    stream = LeadStream(rate)
    for piece in np.split(signal, sorted(cut % (signal.size + 1) for cut in cuts)):
        stream.feed(piece)
    return stream


@given(st.lists(st.integers(-3, 3), min_size=1, max_size=400), st.lists(st.integers(0, 400), max_size=8))
def test_zero_crossings_streamed_in_any_chunks_equal_the_whole_lead(samples: list[int], cuts: list[int]):
    signal = np.array(samples, dtype=np.int32)
    values, _, _ = streamed(signal, None, cuts).finish()
    assert values["zero_crossings"] == zero_crossings(signal)


RECORDING = (
    1000 * np.exp(-((((np.arange(30 * 250) % 200) - 100) / 4.0) ** 2))
    + np.random.default_rng(4).normal(0, 20, 30 * 250)
).astype(np.int32)


@given(st.lists(st.integers(0, RECORDING.size), max_size=6))
def test_a_lead_streamed_in_any_chunks_gets_the_values_of_the_whole_lead(cuts: list[int]):
    values, versions, beats = streamed(RECORDING, 250, cuts).finish()
    assert (values, versions) == compute(RECORDING, 250)
    assert beats is not None and np.array_equal(beats, rhythm.detect_beats(RECORDING, 250))


def test_every_calculator_streams_the_values_it_computes():
    values, versions, _ = streamed(RECORDING, 250, [1234]).finish()
    assert set(versions) == set(CALCULATORS)
    assert values == compute(RECORDING, 250)[0]
