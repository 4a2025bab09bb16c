"""The insight registry: each calculator is a plain NumPy function of one lead, with a version.

A calculator gives one or more named values. Stored ECGs remember which version computed
their values; when a calculator is added or its version bumped (a better detector), the next
read of the insights recomputes what is stale and saves it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from chalicelib.ecg import rhythm

Value = int | float | None
Values = dict[str, Value]


@dataclass(frozen=True)
class Calculator:
    version: int
    compute: Callable[[np.ndarray, float | None], Values]


def zero_crossings(signal: np.ndarray) -> int:
    """Sign changes between consecutive non-zero samples; zeros are skipped, not counted."""
    negative = signal[signal != 0] < 0
    return int(np.count_nonzero(negative[1:] != negative[:-1]))


RHYTHM_FIELDS = ("beats", "heart_rate_bpm", "rr_mean_ms", "rr_sdnn_ms", "rr_rmssd_ms")


def rhythm_insights(signal: np.ndarray, sampling_rate_hz: float | None) -> Values:
    """Beats and RR statistics; all null when the sampling rate is unknown."""
    if sampling_rate_hz is None:
        return dict.fromkeys(RHYTHM_FIELDS)
    return _rhythm_values(rhythm.detect_beats(signal, sampling_rate_hz), sampling_rate_hz)


def _rhythm_values(beats: np.ndarray, sampling_rate_hz: float) -> Values:
    stats = rhythm.rr_statistics(beats, sampling_rate_hz)
    return {field: getattr(stats, field) for field in RHYTHM_FIELDS}


CALCULATORS: dict[str, Calculator] = {
    "zero_crossings": Calculator(1, lambda signal, _: {"zero_crossings": zero_crossings(signal)}),
    "rhythm": Calculator(2, rhythm_insights),
}


def compute(
    signal: np.ndarray, sampling_rate_hz: float | None, names: list[str] | None = None
) -> tuple[Values, dict[str, int]]:
    """The values of the named calculators (all by default) and the versions that made them."""
    wanted = list(CALCULATORS) if names is None else names
    values: Values = {}
    for name in wanted:
        values.update(CALCULATORS[name].compute(signal, sampling_rate_hz))
    return values, {name: CALCULATORS[name].version for name in wanted}


def compute_many(
    signals: Sequence[np.ndarray], sampling_rate_hz: float | None, names: list[str] | None = None
) -> list[tuple[Values, dict[str, int]]]:
    """`compute` of each lead of one ECG (the same values), the beats of all leads found together
    (`rhythm.detect_beats_many`, faster than lead by lead)."""
    wanted = list(CALCULATORS) if names is None else names
    versions = {name: CALCULATORS[name].version for name in wanted}
    beats = (
        rhythm.detect_beats_many(signals, sampling_rate_hz)
        if "rhythm" in wanted and sampling_rate_hz is not None
        else None
    )
    results: list[tuple[Values, dict[str, int]]] = []
    for index, signal in enumerate(signals):
        values: Values = {}
        for name in wanted:
            if name == "rhythm" and beats is not None and sampling_rate_hz is not None:
                values.update(_rhythm_values(beats[index], sampling_rate_hz))
            else:
                values.update(CALCULATORS[name].compute(signal, sampling_rate_hz))
        results.append((values, dict(versions)))
    return results


def stale(versions: dict[str, int]) -> list[str]:
    """Calculators whose stored values are missing or came from another version."""
    return [name for name, calculator in CALCULATORS.items() if versions.get(name) != calculator.version]
