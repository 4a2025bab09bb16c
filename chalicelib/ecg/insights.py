"""The insight registry: each insight is a plain NumPy function of one lead's signal.

Adding an insight is one function here plus its test; ECGs stored before it existed get it
computed on their first read of insights, and saved.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

Insight = Callable[[np.ndarray], int | float]


def zero_crossings(signal: np.ndarray) -> int:
    """Sign changes between consecutive non-zero samples; zeros are skipped, not counted."""
    negative = signal[signal != 0] < 0
    return int(np.count_nonzero(negative[1:] != negative[:-1]))


INSIGHTS: dict[str, Insight] = {
    "zero_crossings": zero_crossings,
}


def compute(signal: np.ndarray, names: list[str] | None = None) -> dict[str, int | float]:
    """Compute the named insights (all registered ones by default) for one lead."""
    wanted = INSIGHTS if names is None else {name: INSIGHTS[name] for name in names}
    return {name: insight(signal) for name, insight in wanted.items()}


def missing(stored: dict[str, object]) -> list[str]:
    return [name for name in INSIGHTS if name not in stored]
