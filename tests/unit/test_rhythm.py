"""The beat detector on synthetic ECGs, its streaming form, and the RR statistics."""

from __future__ import annotations

import itertools
import math
import statistics

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.ecg.rhythm import (
    BeatDetector,
    RhythmStats,
    detect_beats,
    detect_beats_many,
    rr_statistics,
)

# (offset from the R peak in s, width in s, amplitude in mV) for Q, R, S and T
NORMAL_BEAT = [(-0.025, 0.010, -0.15), (0.0, 0.012, 1.0), (0.025, 0.010, -0.3), (0.25, 0.045, 0.3)]
# a ventricular beat: wide, tall, no separate S, discordant T
VENTRICULAR_BEAT = [(0.0, 0.035, 2.0), (0.06, 0.03, -0.8), (0.3, 0.06, -0.5)]


def synthetic_ecg(
    beat_times: list[float],
    fs: float,
    duration: float,
    shapes: list[list[tuple[float, float, float]]] | None = None,
) -> np.ndarray:
    """A lead in ADC units (200 per mV, baseline 1000) with beats from Gaussian waves."""
    time = np.arange(round(duration * fs)) / fs
    millivolts = np.zeros(len(time))
    for index, beat in enumerate(beat_times):
        shape = NORMAL_BEAT if shapes is None else shapes[index % len(shapes)]
        near = slice(max(0, round((beat - 0.3) * fs)), round((beat + 0.7) * fs))
        for offset, width, amplitude in shape:
            millivolts[near] += amplitude * np.exp(-(((time[near] - beat - offset) / width) ** 2) / 2)
    return 1000 + 200 * millivolts


def regular(rate_bpm: float, duration: float, start: float = 0.5) -> list[float]:
    return list(np.arange(start, duration - 0.5, 60 / rate_bpm))


def assert_found(found: np.ndarray, beat_times: list[float], fs: float, tolerance_s: float = 0.05) -> None:
    expected = np.round(np.asarray(beat_times) * fs)
    assert len(found) == len(expected)
    assert np.all(np.abs(found - expected) <= tolerance_s * fs)


def test_finds_every_beat_of_a_clean_rhythm_at_its_r_peak() -> None:
    beats = regular(72, 20)
    assert_found(detect_beats(synthetic_ecg(beats, 360, 20), 360), beats, 360, tolerance_s=0.005)


def test_returns_ascending_int64_indices() -> None:
    found = detect_beats(synthetic_ecg(regular(72, 10), 360, 10), 360)
    assert found.dtype == np.int64
    assert np.all(np.diff(found) > 0)


def test_inverted_qrs_is_found_at_its_dominant_negative_peak() -> None:
    beats = regular(72, 20)
    signal = 2000 - synthetic_ecg(beats, 360, 20)
    assert_found(detect_beats(signal, 360), beats, 360, tolerance_s=0.005)


def test_biphasic_qrs_is_found() -> None:
    beats = regular(80, 20)
    biphasic = [(-0.012, 0.010, 0.8), (0.012, 0.010, -0.9), (0.25, 0.045, 0.2)]
    assert_found(detect_beats(synthetic_ecg(beats, 500, 20, [biphasic]), 500), beats, 500)


def test_baseline_wander_does_not_add_or_lose_beats() -> None:
    beats = regular(70, 30)
    time = np.arange(30 * 360) / 360
    wander = 150 * np.sin(2 * np.pi * 0.3 * time) + 80 * np.sin(2 * np.pi * 0.05 * time)
    assert_found(detect_beats(synthetic_ecg(beats, 360, 30) + wander, 360), beats, 360)


def test_muscle_noise_does_not_add_or_lose_beats() -> None:
    beats = regular(75, 30)
    noise = np.random.default_rng(3).normal(0, 0.05 * 200, 30 * 360)
    assert_found(detect_beats(synthetic_ecg(beats, 360, 30) + noise, 360), beats, 360)


def test_baseline_steps_from_electrode_motion_are_not_beats() -> None:
    beats = regular(72, 40)
    time = np.arange(40 * 360) / 360
    steps = np.zeros(len(time))
    for index, onset in enumerate(beats[1:-1:3]):  # a step midway between beats, every third beat
        after = time >= onset + 0.4
        steps[after] += (-1) ** index * 200 * np.exp(-(time[after] - onset - 0.4) / 0.3)
    assert_found(detect_beats(synthetic_ecg(beats, 360, 40) + steps, 360), beats, 360)


def test_through_a_noise_burst_spikes_as_big_and_sharp_as_a_qrs_are_told_apart_by_the_rhythm() -> None:
    beats = regular(75, 60)
    signal = synthetic_ecg(beats, 360, 60)
    time = np.arange(len(signal)) / 360
    rng = np.random.default_rng(1)
    burst = (time >= 15) & (time < 45)  # 30 s of noise a third as strong as the QRS
    signal[burst] += rng.normal(0, 0.3 * 200, int(burst.sum()))
    for beat in beats[20:55:3]:  # 12 spikes taller than the QRS, 0.35 s after every third beat
        signal += rng.choice([-1, 1]) * 1.3 * 200 * np.exp(-(((time - beat - 0.35) / 0.012) ** 2) / 2)
    found = detect_beats(signal, 360)
    expected = np.round(np.asarray(beats) * 360)
    false = sum(np.min(np.abs(expected - beat)) > 0.05 * 360 for beat in found)
    missed = sum(np.min(np.abs(found - beat)) > 0.05 * 360 for beat in expected)
    assert false + missed <= 5  # every spike is a beat when the levels alone decide (12 errors)


@pytest.mark.parametrize("rate_bpm", [20, 40, 150, 220, 300])
def test_finds_beats_across_physiological_rates(rate_bpm: float) -> None:
    duration = max(20.0, 12 * 60 / rate_bpm)
    beats = regular(rate_bpm, duration)
    shape = [
        (offset * min(1.0, 120 / rate_bpm), width, amplitude) for offset, width, amplitude in NORMAL_BEAT
    ]
    assert_found(detect_beats(synthetic_ecg(beats, 360, duration, [shape]), 360), beats, 360)


def test_a_four_second_pause_is_bridged_without_false_beats() -> None:
    beats = [*regular(75, 15), *[t + 4.0 for t in regular(75, 15, start=15.0)]]
    assert_found(detect_beats(synthetic_ecg(beats, 360, 34), 360), beats, 360)


def test_ventricular_bigeminy_finds_both_the_normal_and_the_bigger_ventricular_beats() -> None:
    beats = list(np.cumsum(np.tile([1.05, 0.55], 20)) - 0.5)  # normal, then a premature ventricular beat
    signal = synthetic_ecg(beats, 360, beats[-1] + 1.5, [NORMAL_BEAT, VENTRICULAR_BEAT])
    assert_found(detect_beats(signal, 360), beats, 360)


def test_bigeminy_with_ventricular_beats_four_times_taller_finds_the_normal_beats_too() -> None:
    beats = list(np.cumsum(np.tile([1.05, 0.55], 20)) - 0.5)
    tall = [(offset, width, 2 * amplitude) for offset, width, amplitude in VENTRICULAR_BEAT]
    signal = synthetic_ecg(beats, 360, beats[-1] + 1.5, [NORMAL_BEAT, tall])
    assert_found(detect_beats(signal, 360), beats, 360)


def test_alternating_tall_and_small_beats_are_all_found() -> None:
    beats = list(np.arange(0.5, 30, 0.8))
    small = [(offset, width, 0.3 * amplitude) for offset, width, amplitude in NORMAL_BEAT]
    assert_found(detect_beats(synthetic_ecg(beats, 360, 31, [NORMAL_BEAT, small]), 360), beats, 360)


def test_trigeminy_with_tall_ventricular_beats_finds_the_pairs_of_normal_beats_between_them() -> None:
    beats = list(np.cumsum(np.tile([0.85, 0.5, 1.2], 15)) - 0.3)  # N N V: two normal beats per gap
    tall = [(offset, width, 2 * amplitude) for offset, width, amplitude in VENTRICULAR_BEAT]
    found = detect_beats(synthetic_ecg(beats, 360, beats[-1] + 1.5, [NORMAL_BEAT, tall, NORMAL_BEAT]), 360)
    assert_found(found[2:], beats[3:], 360)  # the rhythm is learnt over the first gap


@pytest.mark.parametrize("rate_bpm", [40, 45])
def test_a_slow_rhythm_with_tall_t_and_p_waves_gains_no_beats_between_its_beats(rate_bpm: float) -> None:
    beats = regular(rate_bpm, 60)
    shape = [
        (-0.16, 0.02, 0.25),
        (-0.025, 0.010, -0.15),
        (0.0, 0.012, 1.0),
        (0.025, 0.010, -0.3),
        (0.3, 0.04, 0.7),
    ]
    assert_found(detect_beats(synthetic_ecg(beats, 360, 60, [shape]), 360), beats, 360)


def test_two_to_one_block_gains_no_beats_at_the_blocked_p_waves() -> None:
    beats = regular(40, 60)
    p_wave = [(-0.16, 0.02, 0.25)]
    signal = synthetic_ecg(beats, 360, 60, [[*p_wave, *NORMAL_BEAT]])
    signal += synthetic_ecg([t + 0.75 for t in beats], 360, 60, [p_wave]) - 1000
    assert_found(detect_beats(signal, 360), beats, 360)


@pytest.mark.parametrize("fs", [100.0, 128.0, 250.0, 360.0, 500.0, 1000.0, 2000.0, 257.3])
def test_works_at_any_sampling_rate(fs: float) -> None:
    beats = regular(75, 20)
    assert_found(detect_beats(synthetic_ecg(beats, fs, 20), fs), beats, fs, tolerance_s=0.02)


@pytest.mark.parametrize("length", [0, 1, 2, 5, 50])
def test_very_short_signals_give_no_beats(length: int) -> None:
    assert len(detect_beats(np.full(length, 1000.0), 360)) == 0


def test_constant_signal_gives_no_beats() -> None:
    assert len(detect_beats(np.full(60 * 360, 1024, dtype=np.int16), 360)) == 0


def test_int32_extremes_do_not_overflow() -> None:
    beats = regular(60, 20)
    signal = synthetic_ecg(beats, 360, 20)
    span = (signal - signal.min()) / np.ptp(signal)
    extreme = (np.iinfo(np.int32).min + span * (2.0**32 - 1)).astype(np.int32)
    assert extreme.min() == np.iinfo(np.int32).min
    assert_found(detect_beats(extreme, 360), beats, 360)


def test_full_scale_square_wave_does_not_crash() -> None:
    square = np.where(np.arange(10_000) % 400 < 200, np.iinfo(np.int32).min, np.iinfo(np.int32).max).astype(
        np.int32
    )
    found = detect_beats(square, 360)
    assert np.all(np.diff(found) > 0)


def test_rejects_non_positive_sampling_rate() -> None:
    with pytest.raises(ValueError, match="sampling_rate_hz"):
        BeatDetector(0.0)


def feed_in_chunks(signal: np.ndarray, fs: float, cuts: list[int]) -> np.ndarray:
    detector = BeatDetector(fs)
    bounds = [0, *sorted(cuts), len(signal)]
    parts = [detector.feed(signal[start:end]) for start, end in itertools.pairwise(bounds)]
    return np.concatenate([*parts, detector.finish()])


NOISY = synthetic_ecg(regular(85, 90), 250, 90) + np.random.default_rng(7).normal(0, 25, 90 * 250)


@settings(max_examples=25, deadline=None)
@given(st.lists(st.integers(0, len(NOISY)), max_size=12))
def test_any_chunking_gives_exactly_the_whole_signal_result(cuts: list[int]) -> None:
    assert np.array_equal(feed_in_chunks(NOISY, 250, cuts), detect_beats(NOISY, 250))


HIDDEN = synthetic_ecg(
    list(np.cumsum(np.tile([1.05, 0.55], 30)) - 0.5),
    250,
    34,
    [NORMAL_BEAT, [(offset, width, 2 * amplitude) for offset, width, amplitude in VENTRICULAR_BEAT]],
) + np.random.default_rng(8).normal(0, 10, 34 * 250)


@settings(max_examples=15, deadline=None)
@given(st.lists(st.integers(0, len(HIDDEN)), max_size=12))
def test_beats_found_in_long_gaps_are_the_same_however_chunked(cuts: list[int]) -> None:
    assert np.array_equal(feed_in_chunks(HIDDEN, 250, cuts), detect_beats(HIDDEN, 250))


def test_one_sample_chunks_give_exactly_the_whole_signal_result() -> None:
    signal = NOISY[: 20 * 250]
    detector = BeatDetector(250)
    parts = [detector.feed(signal[i : i + 1]) for i in range(len(signal))]
    assert np.array_equal(np.concatenate([*parts, detector.finish()]), detect_beats(signal, 250))


def test_streamed_beats_come_out_before_the_end() -> None:
    beats = regular(70, 600)
    detector = BeatDetector(250)
    early = detector.feed(synthetic_ecg(beats, 250, 600))
    assert len(early) > 0.5 * len(beats)


# RR statistics

beat_arrays = st.lists(st.integers(1, 5000), max_size=60).map(lambda gaps: np.cumsum([7, *gaps]))
rates = st.sampled_from([100.0, 128.0, 360.0, 500.0, 257.3])


def reference_stats(beats: np.ndarray, fs: float) -> tuple[float, float | None, float | None]:
    rr = [
        (later - earlier) * 1000 / fs
        for earlier, later in zip(beats.tolist(), beats[1:].tolist(), strict=False)
    ]
    steps = [later - earlier for earlier, later in itertools.pairwise(rr)]
    sdnn = statistics.pstdev(rr) if rr else None
    rmssd = math.sqrt(statistics.fmean([step * step for step in steps])) if steps else None
    return statistics.mean(rr), sdnn, rmssd


def assert_rounded(value: float | None, exact: float | None) -> None:
    assert (value is None) == (exact is None)
    if value is not None and exact is not None:
        assert abs(value - exact) <= 0.05 + 1e-9 * abs(exact)
        assert value == round(value, 1)


@settings(max_examples=200)
@given(beat_arrays, rates)
def test_rr_statistics_match_a_plain_python_reference(beats: np.ndarray, fs: float) -> None:
    stats = rr_statistics(beats, fs)
    assert stats.beats == len(beats)
    if len(beats) < 2:
        assert stats == RhythmStats(len(beats), None, None, None, None)
        return
    mean, sdnn, rmssd = reference_stats(beats, fs)
    assert_rounded(stats.rr_mean_ms, mean)
    assert_rounded(stats.heart_rate_bpm, 60000 / mean)
    assert_rounded(stats.rr_sdnn_ms, sdnn)
    assert_rounded(stats.rr_rmssd_ms, rmssd)


@given(st.lists(st.integers(1, 2**40), min_size=2, max_size=40), rates)
def test_rr_statistics_of_intervals_too_long_for_int64_sums_are_still_exact(
    intervals: list[int], fs: float
) -> None:
    beats = np.cumsum([0, *intervals])
    mean, sdnn, rmssd = reference_stats(beats, fs)
    stats = rr_statistics(beats, fs)
    assert_rounded(stats.rr_mean_ms, mean)
    assert_rounded(stats.rr_sdnn_ms, sdnn)
    assert_rounded(stats.rr_rmssd_ms, rmssd)


def test_no_beats_gives_all_null() -> None:
    assert rr_statistics(np.array([], dtype=np.int64), 360) == RhythmStats(0, None, None, None, None)


def test_one_beat_gives_all_null() -> None:
    assert rr_statistics(np.array([100]), 360) == RhythmStats(1, None, None, None, None)


def test_two_beats_give_rate_mean_and_a_zero_sdnn_but_no_rmssd() -> None:
    assert rr_statistics(np.array([0, 360]), 360) == RhythmStats(2, 60.0, 1000.0, 0.0, None)


def test_three_beats_give_every_value() -> None:
    assert rr_statistics(np.array([0, 360, 900]), 360) == RhythmStats(3, 48.0, 1250.0, 250.0, 500.0)


def test_heart_rate_comes_from_the_unrounded_mean() -> None:
    assert rr_statistics(np.array([0, 1000, 2001]), 1000).heart_rate_bpm == round(60000 / 1000.5, 1)


def test_unordered_beats_are_rejected() -> None:
    with pytest.raises(ValueError, match="ascending"):
        rr_statistics(np.array([10, 10]), 360)


# A lead shorter than one block plus its context is detected in one go, without the stream.
ONE_BLOCK_LIMIT = 65_536 + 60  # BLOCK_SAMPLES + the context at 500 Hz


@settings(max_examples=12, deadline=None)
@given(
    st.sampled_from([ONE_BLOCK_LIMIT - 1, ONE_BLOCK_LIMIT, 5_000]),
    st.lists(st.integers(0, ONE_BLOCK_LIMIT), max_size=4),
)
def test_one_block_fast_path_equals_the_stream_however_chunked(length: int, cuts: list[int]) -> None:
    rng = np.random.default_rng(length)
    beat_times = list(np.cumsum(rng.normal(0.8, 0.05, size=int(length / 500 / 0.8))))
    signal = synthetic_ecg(beat_times, 500, length / 500) + rng.normal(0, 8, length)
    detector = BeatDetector(500)
    bounds = [0, *sorted(min(cut, length) for cut in cuts), length]
    parts = [detector.feed(signal[a:b]) for a, b in itertools.pairwise(bounds)]
    streamed = np.concatenate([*parts, detector.finish()])
    assert len(streamed) > 10
    assert np.array_equal(detect_beats(signal, 500), streamed)


def test_leads_detected_together_give_each_lead_s_beats() -> None:
    rng = np.random.default_rng(3)
    leads = [
        np.round(synthetic_ecg(regular(rate, 10), 500, 10) * gain + rng.normal(0, 5, 5000)).astype(np.int32)
        for rate, gain in itertools.product([55, 72, 130], [1.0, -0.6, 2.5, 0.3])
    ]
    leads += [
        leads[0][:3000],
        leads[1][:64_000],
        np.zeros(0),
        np.tile(leads[2], 14),
    ]  # other lengths, streamed
    together = detect_beats_many(leads, 500)
    assert len(together) == len(leads)
    for lead, beats in zip(leads, together, strict=True):
        assert beats.dtype == np.int64
        assert np.array_equal(beats, detect_beats(lead, 500))


def streamed(signal: np.ndarray, fs: float) -> np.ndarray:
    detector = BeatDetector(fs)
    return np.concatenate([detector.feed(signal), detector.finish()])


@pytest.mark.parametrize("dtype", [np.int8, np.uint8, np.int16, np.uint16, np.int32, np.uint32, np.int64])
def test_integer_leads_smoothed_in_integers_give_the_stream_s_beats(dtype: type) -> None:
    # The one-block path smooths integer leads by cumulative sums in int64, the stream by float box
    # sums: both exact, so the beats agree, up to the int32 (and uint32) extremes.
    rng = np.random.default_rng(7)
    info = np.iinfo(dtype)
    ecg = synthetic_ecg(regular(72, 10), 500, 10) + rng.normal(0, 3, 5000)
    scaled = np.clip(np.round(ecg * (info.max - info.min) / 4000.0), info.min, info.max).astype(dtype)
    extremes = np.where(rng.random(5000) < 0.5, info.min, info.max).astype(dtype)
    leads = [scaled, extremes, np.full(5000, info.max, dtype=dtype)]
    for lead, beats in zip(leads, detect_beats_many(leads, 500), strict=True):
        assert np.array_equal(beats, streamed(lead, 500))


def test_leads_of_mixed_types_and_lengths_in_repeated_calls_give_the_stream_s_beats() -> None:
    # Scratch arrays are reused from call to call, for each shape; floats and integers are grouped apart.
    rng = np.random.default_rng(11)
    ecg = synthetic_ecg(regular(80, 10), 500, 10)
    leads = [
        (ecg * gain + rng.normal(0, 5, 5000)).astype(dtype)
        for gain, dtype in itertools.product([1.0, -2.0], [np.int32, np.float64, np.float32, np.int16])
    ]
    for count in (12, 3, 12, 1):
        batch = [leads[i % len(leads)][: 5000 - 500 * (i % 2)] for i in range(count)]
        for lead, beats in zip(batch, detect_beats_many(batch, 500), strict=True):
            assert np.array_equal(beats, streamed(np.asarray(lead, dtype=np.float64), 500))
