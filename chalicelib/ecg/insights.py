"""The insight registry: each calculator is a plain NumPy function of an ECG's leads, with a version.

A calculator gives one or more named values. Stored ECGs remember which version computed
their values; when a calculator is added or its version bumped (a better detector), the next
read of the insights recomputes what is stale and saves it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from chalicelib.ecg import rhythm

Value = int | float | None
Values = dict[str, Value]


class Accumulator(Protocol):
    """One lead's values computed from its samples fed in chunks (a recording too long to hold)."""

    def feed(self, samples: np.ndarray) -> None: ...

    def result(self) -> Values: ...


@dataclass(frozen=True)
class Calculator:
    """`compute` takes every lead of one ECG at once, so a calculator may share work across
    leads (the detector filters them as one batch); it gives one dict of values per lead.
    `accumulator` gives the same values for one lead fed in chunks, whatever the chunking."""

    version: int
    compute: Callable[[Sequence[np.ndarray], float | None], list[Values]]
    accumulator: Callable[[float | None], Accumulator]


def zero_crossings(signal: np.ndarray) -> int:
    """Sign changes between consecutive non-zero samples; zeros are skipped, not counted."""
    negative = signal[signal != 0] < 0
    return int(np.count_nonzero(negative[1:] != negative[:-1]))


def zero_crossing_insights(signals: Sequence[np.ndarray], _: float | None) -> list[Values]:
    return [{"zero_crossings": zero_crossings(signal)} for signal in signals]


class ZeroCrossingAccumulator:
    """Carries the sign of the last non-zero sample across chunks."""

    def __init__(self, _: float | None) -> None:
        self._count = 0
        self._last_negative: bool | None = None

    def feed(self, samples: np.ndarray) -> None:
        negative = samples[samples != 0] < 0
        if negative.size == 0:
            return
        self._count += int(np.count_nonzero(negative[1:] != negative[:-1]))
        self._count += int(self._last_negative is not None and self._last_negative != negative[0])
        self._last_negative = bool(negative[-1])

    def result(self) -> Values:
        return {"zero_crossings": self._count}


RHYTHM_FIELDS = ("beats", "heart_rate_bpm", "rr_mean_ms", "rr_sdnn_ms", "rr_rmssd_ms")


def rhythm_insights(signals: Sequence[np.ndarray], sampling_rate_hz: float | None) -> list[Values]:
    """Beats and RR statistics; all null when the sampling rate is unknown."""
    if sampling_rate_hz is None:
        return [dict.fromkeys(RHYTHM_FIELDS) for _ in signals]
    values = []
    for beats in rhythm.detect_beats_many(signals, sampling_rate_hz):
        stats = rhythm.rr_statistics(beats, sampling_rate_hz)
        values.append({field: getattr(stats, field) for field in RHYTHM_FIELDS})
    return values


class RhythmAccumulator:
    """The streaming detector; its beats are kept (a day of beats is ~100,000 integers) so
    they can be stored with the signal."""

    def __init__(self, sampling_rate_hz: float | None) -> None:
        self._rate = sampling_rate_hz
        self._detector = None if sampling_rate_hz is None else rhythm.BeatDetector(sampling_rate_hz)
        self._found: list[np.ndarray] = []
        self.beats: np.ndarray | None = None  # once the result is known (None without a rate)

    def feed(self, samples: np.ndarray) -> None:
        if self._detector is not None:
            self._found.append(self._detector.feed(samples))

    def result(self) -> Values:
        if self._detector is None or self._rate is None:
            return dict.fromkeys(RHYTHM_FIELDS)
        self.beats = np.concatenate([*self._found, self._detector.finish()])
        stats = rhythm.rr_statistics(self.beats, self._rate)
        return {field: getattr(stats, field) for field in RHYTHM_FIELDS}


CALCULATORS: dict[str, Calculator] = {
    "zero_crossings": Calculator(1, zero_crossing_insights, ZeroCrossingAccumulator),
    "rhythm": Calculator(2, rhythm_insights, RhythmAccumulator),
}


class LeadStream:
    """Every calculator's values of one lead fed in chunks: what `compute` gives for the whole lead."""

    def __init__(self, sampling_rate_hz: float | None) -> None:
        self._accumulators = {
            name: calculator.accumulator(sampling_rate_hz) for name, calculator in CALCULATORS.items()
        }

    def feed(self, samples: np.ndarray) -> None:
        for accumulator in self._accumulators.values():
            accumulator.feed(samples)

    def finish(self) -> tuple[Values, dict[str, int], np.ndarray | None]:
        """The values, the versions that made them, and the beats found (None without a rate)."""
        values: Values = {}
        for accumulator in self._accumulators.values():
            values.update(accumulator.result())
        detector = self._accumulators["rhythm"]
        assert isinstance(detector, RhythmAccumulator)
        versions = {name: calculator.version for name, calculator in CALCULATORS.items()}
        return values, versions, detector.beats


def compute_many(
    signals: Sequence[np.ndarray], sampling_rate_hz: float | None
) -> list[tuple[Values, dict[str, int]]]:
    """For each lead of one ECG, every calculator's values and the versions that made them."""
    per_lead: list[Values] = [{} for _ in signals]
    for calculator in CALCULATORS.values():
        for values, computed in zip(per_lead, calculator.compute(signals, sampling_rate_hz), strict=True):
            values.update(computed)
    versions = {name: calculator.version for name, calculator in CALCULATORS.items()}
    return [(values, dict(versions)) for values in per_lead]


def stale(versions: dict[str, int]) -> list[str]:
    """Calculators whose stored values are missing or came from another version."""
    return [name for name, calculator in CALCULATORS.items() if versions.get(name) != calculator.version]
