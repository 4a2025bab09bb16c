"""The beat detector on real records annotated by cardiologists (tests/data/ecg-records)."""

from __future__ import annotations

import itertools
from functools import cache
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bench.rhythm import NAMES, Record, Score, heart_rate, load, match, resampled
from chalicelib.ecg.rhythm import BeatDetector, detect_beats

RECORDS = Path(__file__).resolve().parents[1] / "data" / "ecg-records"


@cache
def record(name: str) -> Record:
    return load(name)


@cache
def detected(name: str) -> tuple[int, ...]:
    rec = record(name)
    return tuple(detect_beats(rec.raw, rec.fs).tolist())


def score(name: str) -> Score:
    rec = record(name)
    return match(rec.beats, np.asarray(detected(name), dtype=np.int64), rec.fs)


@pytest.mark.parametrize("name", ["mitdb_100", "mitdb_200", "svdb_800"])
def test_each_record_reaches_99_percent_f1(name: str) -> None:
    assert score(name).f1 >= 99.0


def test_the_noisy_record_reaches_99_percent_f1() -> None:
    assert score("mitdb_105").f1 >= 99.0


def test_the_noisy_record_stays_above_98_9_percent_f1() -> None:
    assert score("mitdb_105").f1 >= 98.9


def test_total_f1_over_the_records_reaches_99_8_percent() -> None:
    total = sum((score(name) for name in NAMES), Score(0, 0, 0))
    assert total.f1 >= 99.8


def test_total_f1_over_the_records_stays_above_99_6_percent() -> None:
    total = sum((score(name) for name in NAMES), Score(0, 0, 0))
    assert total.f1 >= 99.6


def heart_rate_error(name: str) -> float:
    rec = record(name)
    return abs(heart_rate(np.asarray(detected(name), dtype=np.int64), rec.fs) - heart_rate(rec.beats, rec.fs))


@pytest.mark.parametrize("name", ["mitdb_100", "mitdb_200", "svdb_800"])
def test_heart_rate_error_is_at_most_half_a_bpm(name: str) -> None:
    assert heart_rate_error(name) <= 0.5


def test_heart_rate_error_on_the_noisy_record_is_at_most_half_a_bpm() -> None:
    assert heart_rate_error("mitdb_105") <= 0.5


def test_heart_rate_error_on_the_noisy_record_stays_below_one_bpm() -> None:
    assert heart_rate_error("mitdb_105") <= 1.0


def test_mean_heart_rate_error_over_the_records_is_at_most_0_2_bpm() -> None:
    assert sum(heart_rate_error(name) for name in NAMES) / len(NAMES) <= 0.2


def test_an_inverted_record_scores_as_the_record() -> None:
    rec = record("mitdb_100")
    inverted = detect_beats(-rec.raw.astype(np.int32), rec.fs)
    assert match(rec.beats, inverted, rec.fs).f1 >= score("mitdb_100").f1 - 0.1


@pytest.mark.parametrize("fs", [250.0, 1000.0])
def test_a_record_resampled_to_another_rate_scores_as_the_record(fs: float) -> None:
    rec = resampled(record("mitdb_200"), fs)
    assert match(rec.beats, detect_beats(rec.raw, rec.fs), rec.fs).f1 >= score("mitdb_200").f1 - 0.1


@settings(max_examples=10, deadline=None)
@given(st.sampled_from(NAMES), st.lists(st.floats(0, 1), min_size=1, max_size=8), st.integers(0, 20))
def test_two_minutes_of_a_record_give_the_same_beats_however_chunked(
    name: str, fractions: list[float], start_minute: int
) -> None:
    rec = record(name)
    begin = int(start_minute * 60 * rec.fs)
    piece = rec.raw[begin : begin + int(120 * rec.fs)]
    cuts = sorted(int(f * len(piece)) for f in fractions)
    detector = BeatDetector(rec.fs)
    bounds = [0, *cuts, len(piece)]
    parts = [detector.feed(piece[a:b]) for a, b in itertools.pairwise(bounds)]
    assert np.array_equal(np.concatenate([*parts, detector.finish()]), detect_beats(piece, rec.fs))


@pytest.mark.parametrize("name", NAMES)
def test_a_whole_record_streamed_in_uneven_chunks_gives_the_same_beats(name: str) -> None:
    rec = record(name)
    detector = BeatDetector(rec.fs)
    sizes = np.random.default_rng(len(name)).choice([1, 999, 65_537, 250_000], size=200)
    bounds = np.minimum(np.concatenate([[0], np.cumsum(sizes)]), len(rec.raw))
    parts = [detector.feed(rec.raw[a:b]) for a, b in itertools.pairwise(bounds)]
    assert tuple(np.concatenate([*parts, detector.finish()]).tolist()) == detected(name)
