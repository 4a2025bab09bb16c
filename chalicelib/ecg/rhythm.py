"""Heart rhythm from one ECG lead: R-peak detection (whole or streamed) and RR-interval statistics.

The detector is one streaming pipeline; `detect_beats` just feeds it the whole signal. It works in
three stages, each exact under any external chunking:

1. Features, computed in fixed blocks aligned to absolute sample positions with a fixed context on
   each side, so every sample's floating-point arithmetic is the same whatever the chunking:
   a baseline-free signal (for locating the R peak) and the QRS slope energy (for finding it).
2. Candidate QRS complexes: peaks of the slope energy that dominate their neighbourhood, found by
   comparisons only (exact), once the neighbourhood has been computed; each sized by its slope
   energy, discounted when it only rises or only falls (a baseline step, not a QRS).
3. The decision: adaptive signal and noise levels (medians of recent peaks), a refractory period,
   T-wave rejection and search-back over a gap long for the usual (median) RR, candidate by candidate;
   in a long gap, a look back for a beat much smaller than its neighbours (bigeminy, trigeminy); and,
   through noise, between complexes too close to both be beats, the one that keeps the rhythm regular.

Every length is set in seconds from physiology, so one design serves any sampling rate.
"""

from __future__ import annotations

import bisect
import functools
import math
import operator
import threading
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IndexArray = npt.NDArray[np.int64]

BLOCK_SAMPLES = 1 << 16  # the unit of feature computation; large enough to amortise NumPy calls
# One-block leads of equal length share each NumPy call in groups of up to this many samples (12
# leads of 10 s at 500 Hz), in scratch arrays reused from call to call (see `_RowScratch`); the
# group's arrays, a few MB, stay within the cache.
GROUP_SAMPLES = 1 << 16
SMOOTHING_S = 0.02  # low-pass boxcar, applied twice: zero at 50 Hz, keeps the QRS band
SLOPE_SPAN_S = 0.008  # half the derivative's span
BASELINE_S = 0.2  # longer than a QRS: what a moving mean this long follows is baseline
ENERGY_S = 0.1  # slope energy integrated over about one QRS width
DOMINANCE_S = 0.15  # a candidate is the biggest energy peak within this distance
R_SEARCH_S = 0.04  # the R peak lies within this distance of the energy peak
QRS_REACH_S = 0.06  # both edges of a QRS lie within this distance of its centre (QRS under 120 ms)
# A QRS both rises and falls; a baseline step (electrode motion) only goes one way, as in
# Hamilton-Tompkins' baseline-shift check. Edges are measured on the baseline-free signal, where a pure
# step's counter-edge is ~0.2 of its edge; ventricular beats in MIT-BIH 200 stay above 0.33.
BALANCED_EDGE = 0.3  # a complex whose weaker edge is below this fraction of the stronger counts less
REFRACTORY_S = 0.2  # no second QRS this soon after one
T_WAVE_S = 0.36  # a smaller, slower complex this soon after a beat is its T wave
LEARNING_S = 2.0  # the signal level is first learnt from this much signal
SEARCH_BACK_RR = 1.66  # no beat for this many usual RRs: look back for a missed one (Pan-Tompkins)
RR_MIN_S = 0.2  # 300 bpm
RR_MAX_S = 3.0  # 20 bpm
HISTORY = 16  # noise peaks remembered for the noise level
SIGNAL_HISTORY = 8  # beats remembered for the signal level (Hamilton-Tompkins: the last 8)
RR_HISTORY = 16  # RR intervals whose median is the usual RR: unlike a mean, it ignores a missed beat
T_WAVE_FRACTION = 0.5  # a T wave has under half its beat's slope (Pan-Tompkins)
THRESHOLD_FRACTION = 0.5  # threshold between noise and signal levels
SEARCH_BACK_FRACTION = 0.7  # search-back accepts peaks above this fraction of the threshold
PREMATURE_RR = 0.9  # a complex sooner than this many usual RRs is premature: a real one or noise
RIVAL_RR = 0.5  # a premature complex followed this closely by a bigger one is noise
CLEAR_OF_NOISE = 3.0  # a peak this many times the noise level is a QRS however big the others are
NOISE_KNOWN = 4  # noise peaks needed before a peak can count as clear of the noise
RHYTHM_KNOWN = 4  # RR intervals needed before a complex is judged premature
RESTING_RR_S = 1.0  # the RR assumed before any is measured
# Hidden beats (see _Decision._rescue). Beats 0.3 the size of their neighbours, as normal beats
# between ventricular ones 3-4 times taller, fall below a threshold at half the signal level.
RESCUE_RR = 1.5  # a gap this many usual RRs may hide a beat (in bigeminy the gap is 2 RRs)
SLOW_GAP_S = 1.2  # ... so may any gap this long (under 50 bpm, bradycardia) if the beat recurs
QT_MAX_S = 0.5  # a hidden beat comes this long after the previous beat: its T wave is over (QT < 500 ms)
RESCUE_SPLIT = 0.3  # ... and splits the gap with each part at least this fraction of it
RESCUE_FRACTION = 0.25  # ... and is at least this fraction of the smaller recent beats (lower quartile)
RESCUE_DOMINANCE = 1.5  # ... and this many times any other complex within QT_MAX_S of it
RESCUE_NOISE = 2.0  # ... and this many times the noise level
ECHO_PLACE = 0.1  # a slow rhythm's hidden beat recurs this near the same place (fraction of its gap)
ECHO_SIZE = 1.5  # ... within this factor of the same size
ECHO_BEATS = 3  # ... or matches in size a hidden beat found this few beats before
MISSED_KEPT = 64  # rejected complexes kept for a look back: about 10 s of them at most
# Rhythm choice in noise (see _Decision._rhythm_choice). Noise spikes as big and sharp as a QRS pass
# any threshold; only the rhythm tells them apart. Two complexes closer than CONFLICT_RR usual RRs cannot
# both be beats of the running rhythm (sinus rhythm changes far less from one beat to the next) unless
# one is premature, and a premature beat is followed by a pause, not by another complex that soon.
CONFLICT_RR = 0.7
# Noisy: the noise level (median of recent rejected peaks) is this fraction of the signal level. On the
# clean stretches of the annotated records it stays under 0.15, through noise bursts it is 0.3 and more.
NOISY = 0.25
FOLLOW_RR = 1.5  # a path's next beat comes within this many usual RRs (a longer gap scores as a miss)
PATH_BEATS = 3  # a choice is scored by the RRs of the path it starts: itself and the two beats after
LOOKAHEAD_RR = CONFLICT_RR + (PATH_BEATS - 1) * FOLLOW_RR  # how far past a candidate its decision looks


def _odd(samples: float) -> int:
    """An odd window length close to `samples`, at least 1, so a centred window is exact."""
    return 2 * max(0, round(samples / 2)) + 1


def _box_sum(values: FloatArray, width: int, combine: np.ufunc = np.add) -> FloatArray:
    """Sums over every window of `width` samples (length shrinks by width - 1).

    Built from sums over power-of-two spans, one vector addition per doubling and per set bit of
    `width`: faster than a cumulative sum (which NumPy runs serially) and free of its rounding drift.
    """
    length = len(values) - width + 1
    first: FloatArray | None = None
    total: FloatArray | None = None
    span, offset, power = 1, 0, values
    while True:
        if width & span:
            piece = power[offset : offset + length]
            if first is None:
                first = piece
            elif total is None:
                total = combine(first, piece)
            else:
                combine(total, piece, out=total)  # in place: the same sums, one array fewer
            offset += span
        if 2 * span > width:
            break
        power = combine(power[:-span], power[span:])
        span *= 2
    if total is None:
        assert first is not None
        return first.copy()
    return total


@dataclass(frozen=True)
class _Design:
    """Filter and decision lengths in samples for one sampling rate."""

    smoothing: int
    slope_span: int
    baseline: int
    energy: int
    dominance: int
    r_search: int
    qrs_reach: int
    refractory: float
    t_wave: float
    learning: float
    rr_min: float
    rr_max: float
    resting_rr: float
    slow_gap: float
    qt: float

    @classmethod
    def for_rate(cls, fs: float) -> _Design:
        return cls(
            smoothing=_odd(SMOOTHING_S * fs),
            slope_span=max(1, round(SLOPE_SPAN_S * fs)),
            baseline=_odd(BASELINE_S * fs),
            energy=_odd(ENERGY_S * fs),
            dominance=max(1, round(DOMINANCE_S * fs)),
            r_search=max(1, round(R_SEARCH_S * fs)),
            qrs_reach=max(1, round(QRS_REACH_S * fs)),
            refractory=REFRACTORY_S * fs,
            t_wave=T_WAVE_S * fs,
            learning=LEARNING_S * fs,
            rr_min=RR_MIN_S * fs,
            rr_max=RR_MAX_S * fs,
            resting_rr=RESTING_RR_S * fs,
            slow_gap=SLOW_GAP_S * fs,
            qt=QT_MAX_S * fs,
        )

    @property
    def smooth_shrink(self) -> int:
        return 2 * (self.smoothing - 1)

    @property
    def context(self) -> int:
        """Input samples needed on each side of a block to compute its features exactly."""
        energy_side = self.smooth_shrink // 2 + self.slope_span + (self.energy - 1) // 2
        baseline_side = self.smooth_shrink // 2 + (self.baseline - 1) // 2
        return max(energy_side, baseline_side)


@functools.lru_cache(maxsize=32)
def _design(fs: float) -> _Design:
    """The design for a rate, made once (a few rates recur: 250, 360, 500, 1000 Hz)."""
    return _Design.for_rate(fs)


def _features(window: FloatArray, design: _Design) -> tuple[FloatArray, FloatArray]:
    """Baseline-free signal and slope energy for the centre of `window` (context trimmed off)."""
    centred = window - window[0]  # small numbers keep the window sums precise
    return _centred_features(centred, design)


def _centred_features(centred: FloatArray, design: _Design) -> tuple[FloatArray, FloatArray]:
    """`_features` of a window already less its first sample (`centred` is used up)."""
    width = design.smoothing
    smooth = _box_sum(_box_sum(centred, width), width)
    smooth /= width * width
    span = design.slope_span
    slope = smooth[2 * span :] - smooth[: len(smooth) - 2 * span]
    energy = _box_sum(np.multiply(slope, slope, out=slope), design.energy)
    baseline = _box_sum(smooth, design.baseline)
    baseline /= design.baseline
    half = (design.baseline - 1) // 2
    level = np.subtract(smooth[half : len(smooth) - half], baseline, out=baseline)
    block = len(centred) - 2 * design.context
    return _centre(level, block), _centre(energy, block)


def _box_sum_rows(values: FloatArray, width: int, out: FloatArray, spare: FloatArray) -> FloatArray:
    """The centre of `_box_sum` of each row of `values`, as wide as `out`, the same additions, written
    into `out` with `spare` (twice the shape of `values`) for the power-of-two sums: no fresh arrays
    to allocate, and the features come out contiguous."""
    length = out.shape[1]
    skip = (values.shape[1] - width + 1 - length) // 2  # as `_centre` trims
    total = out
    first: FloatArray | None = None  # the first piece, until the second is added to it
    span, offset, power = 1, 0, values
    scratch = (spare[0], spare[1])
    while True:
        if width & span:
            piece = power[:, skip + offset : skip + offset + length]
            if first is None:
                first = piece
                if span > 1:  # a power's buffer gets reused: its piece is kept aside (the input stays)
                    np.copyto(total, piece)
                    first = total
            else:
                np.add(first, piece, out=total)
                first = total
            offset += span
        if 2 * span > width:
            break
        following = scratch[span.bit_length() % 2][:, : power.shape[1] - span]
        power = np.add(power[:, :-span], power[:, span:], out=following)
        span *= 2
    if first is not None and first is not total:
        np.copyto(total, first)
    return total


class _RowScratch:
    """Work arrays for the features of `count` leads of one window width, made once per thread (a
    few MB for 12 leads of 10 s) and reused: fresh arrays over 128 kB are mapped anew by malloc and
    page-fault on every call, which made batching leads slower than computing them one by one."""

    def __init__(self, count: int, width: int, length: int) -> None:
        self.centred = np.empty((count, width))
        self.integers = np.empty((count, width), dtype=np.int64)
        self.sums = np.empty((count, width + 1), dtype=np.int64)
        self.sums[:, 0] = 0
        self.spare = np.empty((2, count, width))
        self.once = np.empty((count, width))
        self.smooth = np.empty((count, width))
        self.energy = np.empty((count, length))  # the features of the block, less its context
        self.level = np.empty((count, length))


_scratch = threading.local()


def _row_scratch(count: int, width: int, length: int) -> _RowScratch:
    cache: dict[tuple[int, int, int], _RowScratch] = _scratch.__dict__.setdefault("cache", {})
    found = cache.get((count, width, length))
    if found is None:
        if len(cache) >= 4:  # a few shapes recur (12 leads of 10 s at one rate); bound the memory
            cache.clear()
        found = cache[count, width, length] = _RowScratch(count, width, length)
    return found


def _row_features(scratch: _RowScratch, design: _Design, integer: bool) -> tuple[FloatArray, FloatArray]:
    """`_centred_features` of each row of `scratch.centred` (of `scratch.integers` if `integer`), the
    same numbers, in scratch arrays."""
    centred, spare = scratch.centred, scratch.spare
    width = design.smoothing
    if integer:
        smooth = _integer_smooth(scratch, width)
    else:
        once = _box_sum_rows(centred, width, scratch.once[:, : centred.shape[1] - width + 1], spare)
        smooth = _box_sum_rows(once, width, scratch.smooth[:, : once.shape[1] - width + 1], spare)
    smooth /= width * width
    span = design.slope_span
    slope = scratch.once[:, : smooth.shape[1] - 2 * span]  # free once smoothed
    np.subtract(smooth[:, 2 * span :], smooth[:, : smooth.shape[1] - 2 * span], out=slope)
    energy = _box_sum_rows(np.multiply(slope, slope, out=slope), design.energy, scratch.energy, spare)
    baseline = _box_sum_rows(smooth, design.baseline, scratch.level, spare)
    baseline /= design.baseline
    start = (smooth.shape[1] - baseline.shape[1]) // 2  # the baseline's centre in `smooth`
    level = np.subtract(smooth[:, start : start + baseline.shape[1]], baseline, out=baseline)
    return level, energy


def _integer_smooth(scratch: _RowScratch, width: int) -> FloatArray:
    """The two box sums of `width` of the rows of `scratch.integers`, as floats, by two cumulative
    sums: in fewer passes, the same numbers as the float box sums, as sums of integers under 2**53
    are exact in any order (see `_integer_lead`)."""
    values, sums = scratch.integers, scratch.sums
    size = values.shape[1]
    once = scratch.once.view(np.int64)[:, : size - width + 1]
    np.cumsum(values, axis=1, out=sums[:, 1:])
    np.subtract(sums[:, width:], sums[:, : size - width + 1], out=once)
    np.cumsum(once, axis=1, out=sums[:, 1 : once.shape[1] + 1])
    length = once.shape[1] - width + 1
    twice = np.subtract(sums[:, width : width + length], sums[:, :length], out=once[:, :length])
    smooth = scratch.smooth[:, :length]
    np.copyto(smooth, twice)
    return smooth


def _centre(values: FloatArray, length: int) -> FloatArray:
    trim = (len(values) - length) // 2
    return values[trim : trim + length]


class _FeatureStream:
    """Stage 1: raw samples in, features out in fixed absolute blocks (exact under any chunking)."""

    def __init__(self, design: _Design) -> None:
        self._design = design
        self._pending: list[FloatArray] = []
        self._pending_samples = 0
        self._start = 0  # absolute index of the first pending sample
        self._next_block = 0  # absolute index of the next block to compute
        self._first: float | None = None

    def feed(self, samples: FloatArray) -> list[tuple[int, FloatArray, FloatArray]]:
        if len(samples) == 0:
            return []
        if self._first is None:
            self._first = float(samples[0])
        self._pending.append(samples)
        self._pending_samples += len(samples)
        end = self._start + self._pending_samples
        blocks = []
        while self._next_block + BLOCK_SAMPLES + self._design.context <= end:
            blocks.append(self._block(BLOCK_SAMPLES, end_padding=0))
        return blocks

    def finish(self) -> list[tuple[int, FloatArray, FloatArray]]:
        end = self._start + self._pending_samples
        if self._next_block >= end:
            return []
        length = end - self._next_block
        return [self._block(length, end_padding=self._next_block + length + self._design.context - end)]

    def _block(self, length: int, end_padding: int) -> tuple[int, FloatArray, FloatArray]:
        context = self._design.context
        data = np.concatenate(self._pending) if len(self._pending) > 1 else self._pending[0]
        begin = self._next_block - context
        head = max(0, -begin)
        window = data[
            max(0, begin - self._start) : self._next_block + length + context - end_padding - self._start
        ]
        assert self._first is not None
        parts = [np.full(head, self._first), window, np.full(end_padding, window[-1])]
        level, energy = _features(np.concatenate(parts), self._design)
        start = self._next_block
        self._next_block += length
        keep_from = max(0, self._next_block - context - self._start)
        self._pending = [data[keep_from:]]
        self._start += keep_from
        self._pending_samples = len(self._pending[0])
        return start, level, energy


class _CandidateStream:
    """Stage 2: energy peaks that dominate their neighbourhood, with their R peak and size."""

    def __init__(self, design: _Design) -> None:
        self._design = design
        self._margin = design.dominance + max(design.r_search, design.qrs_reach) + 1
        self._level = np.zeros(0)
        self._energy = np.zeros(0)
        self._offset = 0  # absolute index of self._energy[0]
        self._scanned = 0  # absolute index from which candidates are still to be found

    def add(
        self, start: int, level: FloatArray, energy: FloatArray, final: bool
    ) -> list[tuple[int, int, float]]:
        self._level = np.concatenate([self._level, level])
        self._energy = np.concatenate([self._energy, energy])
        end = start + len(energy)
        until = end if final else end - self._margin
        found = self._scan(until)
        keep = max(0, len(self._energy) - 2 * self._margin)
        self._level, self._energy = self._level[keep:], self._energy[keep:]
        self._offset += keep
        return found

    def _scan(self, until: int) -> list[tuple[int, int, float]]:
        energy = self._energy
        last = len(energy) >= 2 and self._offset + len(energy) == until
        peaks = _energy_peaks(energy, last)
        peaks = peaks[_dominant(peaks, energy[peaks], self._design.dominance)]
        absolute = peaks + self._offset
        peaks = peaks[(absolute >= self._scanned) & (absolute < until)]
        self._scanned = max(self._scanned, until)
        return _candidates(peaks, self._level, energy, self._offset, self._design)


def _energy_peaks(energy: FloatArray, last: bool) -> IndexArray:
    """Local maxima of the slope energy (the first of a flat top); the last sample too if `last`
    and rising (the signal ends there)."""
    middle = energy[1:-1]
    peaks = np.flatnonzero((middle > energy[:-2]) & (middle >= energy[2:])) + 1
    if last and energy[-1] > energy[-2]:
        peaks = np.append(peaks, len(energy) - 1)
    return peaks


def _dominant(keys: IndexArray, values: FloatArray, reach: int) -> IndexArray:
    """Which peaks are not beaten by another peak within `reach` samples (ties: the earlier wins):
    bigger than every peak up to that far before, at least as big as every one up to that far after.
    `keys` are the peaks' ascending positions, `values` their energies.
    Returns the indices of the dominant peaks in `keys`.

    Only the peaks are compared (a maximum is exact whatever the order). Most peaks are ripples
    beaten by a next peak, which rules them out in a few vector operations; for the others, the
    ranges of peaks before and after within reach, their maxima taken by one `reduceat`.
    """
    count = len(keys)
    if count < 2:
        return np.arange(count)
    near = keys[1:] - keys[:-1] <= reach
    beaten = np.zeros(count, dtype=bool)
    np.logical_and(near, values[1:] <= values[:-1], out=beaten[1:])
    beaten[:-1] |= near & (values[:-1] < values[1:])
    own = (~beaten).nonzero()[0]
    values_own = values[own]
    keys_own = keys[own]
    bounds = np.empty((len(own), 4), dtype=np.intp)
    bounds[:, 0] = np.searchsorted(keys, keys_own - reach)  # the first peak within reach before
    bounds[:, 1] = own
    np.add(own, 1, out=bounds[:, 2])
    bounds[:, 3] = np.searchsorted(keys, keys_own + reach, side="right")  # past the last within reach after
    # maxima over [first, own), [own, own + 1), [own + 1, stop), and a range to ignore
    maxima = np.maximum.reduceat(np.concatenate((values, [-np.inf])), bounds.ravel()).reshape(len(own), 4)
    before = np.where(bounds[:, 0] < own, maxima[:, 0], -np.inf)
    after = np.where(bounds[:, 2] < bounds[:, 3], maxima[:, 2], -np.inf)
    kept: IndexArray = own[(values_own > before) & (values_own >= after)]
    return kept


def _candidates(
    peaks: IndexArray, level: FloatArray, energy: FloatArray, offset: int, design: _Design
) -> list[tuple[int, int, float]]:
    """(energy peak, R peak, size) of each candidate; indices in the arrays plus `offset`."""
    if len(peaks) == 0:
        return []
    reach = design.r_search
    windows = np.clip(peaks[:, None] + np.arange(-reach, reach + 1), 0, len(level) - 1)
    strongest = np.argmax(np.abs(level[windows]), axis=1)
    r_peaks = windows[np.arange(len(peaks)), strongest] + offset
    sizes = np.sqrt(energy[peaks]) * _balance(peaks, level, design.qrs_reach)
    return list(zip((peaks + offset).tolist(), r_peaks.tolist(), sizes.tolist(), strict=True))


def _balance(peaks: IndexArray, level: FloatArray, reach: int) -> FloatArray:
    """`_edge_balance` of the complexes at `peaks`."""
    windows = np.clip(np.arange(-reach, reach + 1)[:, None] + peaks, 0, len(level) - 1)
    return _edge_balance(level[windows])


def _edge_balance(around: FloatArray) -> FloatArray:
    """How far each complex (a column of `around`: the baseline-free signal from QRS_REACH_S before
    its energy peak to as far after) both rises and falls: a QRS does, a baseline step only goes one
    way (Hamilton-Tompkins' baseline-shift check). 1 when the weaker edge is at least BALANCED_EDGE
    of the stronger, falling in proportion below that."""
    steps = around[1:] - around[:-1]
    rise, fall = np.maximum(steps.max(axis=0), 0.0), np.maximum(-steps.min(axis=0), 0.0)
    weaker, stronger = np.minimum(rise, fall), np.maximum(rise, fall)
    ratio: FloatArray = np.divide(weaker, stronger, out=np.ones(around.shape[1]), where=stronger > 0)
    return np.minimum(1.0, ratio / BALANCED_EDGE)


def _quantile(ordered: list[float], fraction: float) -> float:
    """The `fraction` quantile of sorted `ordered` (linear between order statistics, as NumPy's default)."""
    position = fraction * (len(ordered) - 1)
    below = int(position)
    above = min(below + 1, len(ordered) - 1)
    return ordered[below] + (position - below) * (ordered[above] - ordered[below])


def _alike(first: tuple[float, float], second: tuple[float, float]) -> bool:
    """Two hidden complexes at much the same place in their gaps, of much the same size."""
    place = abs(first[0] - second[0]) <= ECHO_PLACE
    return place and max(first[1], second[1]) <= ECHO_SIZE * min(first[1], second[1])


def _median_at(count: int) -> tuple[int, int, float]:
    """Where `_quantile(ordered, 0.5)` looks in `count` values: below, above, and the fraction."""
    position = 0.5 * (count - 1)
    below = int(position)
    return below, min(below + 1, count - 1), position - below


_MEDIAN_AT = [_median_at(count) for count in range(max(HISTORY, SIGNAL_HISTORY, RR_HISTORY) + 1)]


class _Recent:
    """The last `size` values, also kept sorted so that their quantiles cost no sort, and their
    median (NaN while there are none), kept up to date."""

    __slots__ = ("_size", "_values", "median", "ordered")

    def __init__(self, size: int) -> None:
        self._size = size
        self._values: deque[float] = deque(maxlen=size)
        self.ordered: list[float] = []
        self.median = math.nan

    def __len__(self) -> int:
        return len(self.ordered)  # as long as self._values

    def append(self, value: float) -> None:
        ordered, values = self.ordered, self._values
        if len(values) == self._size:
            del ordered[bisect.bisect_left(ordered, values[0])]
        values.append(value)
        bisect.insort(ordered, value)
        below, above, fraction = _MEDIAN_AT[len(ordered)]  # _quantile(ordered, 0.5), inline
        self.median = ordered[below] + fraction * (ordered[above] - ordered[below])

    def remove(self, value: float) -> None:
        self._values.remove(value)
        self.ordered.remove(value)
        self.median = _quantile(self.ordered, 0.5) if self.ordered else math.nan

    def quantile(self, fraction: float) -> float:
        return _quantile(self.ordered, fraction)


class _Decision:
    """Stage 3: accept or reject candidates in order with adaptive levels, as Pan-Tompkins/Hamilton."""

    def __init__(self, design: _Design) -> None:
        self._design = design
        self._signal = _Recent(SIGNAL_HISTORY)
        self._noise = _Recent(HISTORY)
        self._rr = _Recent(RR_HISTORY)
        self._queue: deque[tuple[int, int, float]] = deque()
        self._missed: list[tuple[int, int, float]] = []  # rejected since the last beat
        self._hidden: float | None = None  # the size of the last hidden beat found
        self._beats_since_hidden = 0
        self._echo: tuple[float, float] | None = None  # the last hidden complex: place in its gap, size
        self._dismissed = 0  # how many of them search-back has already found too small
        self._last: tuple[int, int, float] | None = None
        self._cached_threshold: float | None = None
        self._noisy = False  # noise level at least NOISY of the signal level (set with the threshold)
        # The usual RR: median of the recent ones (robust to a missed or extra beat); before any, 60 bpm.
        # The decision looks LOOKAHEAD_RR of it past a candidate (rivals of a rhythm choice, their paths).
        self._usual_rr = design.resting_rr

    def add(self, candidates: list[tuple[int, int, float]], horizon: int | None) -> list[int]:
        """Decide candidates whose look-ahead is complete (all of them when horizon is None)."""
        self._queue.extend(candidates)
        beats: list[int] = []
        if not self._signal.ordered and not self._learn(horizon):
            return beats
        queue = self._queue
        if horizon is None:
            while queue:
                self._decide(queue.popleft(), beats)
        else:
            while queue and queue[0][0] + LOOKAHEAD_RR * self._usual_rr <= horizon:
                self._decide(queue.popleft(), beats)
        if horizon is None:
            self._search_back(None, beats)
        return beats

    def _learn(self, horizon: int | None) -> bool:
        """Start the levels from the biggest peak of the first seconds, once they are all seen."""
        if not self._queue:
            return False
        until = self._queue[0][0] + self._design.learning
        if horizon is not None and horizon < until:
            return False
        sizes = [size for position, _, size in self._queue if position < until]
        self._signal.append(max(sizes))
        return True

    def _threshold(self) -> float:
        threshold = self._cached_threshold
        if threshold is None:
            noises = self._noise.ordered
            signal = self._signal.median
            if noises:
                noise = self._noise.median
                threshold = noise + THRESHOLD_FRACTION * (signal - noise)
                self._noisy = noise >= NOISY * signal
                if len(noises) >= NOISE_KNOWN:
                    threshold = min(threshold, CLEAR_OF_NOISE * noises[-1])
            else:
                threshold = 0.0 + THRESHOLD_FRACTION * (signal - 0.0)  # a noise level of 0
                self._noisy = False
            self._cached_threshold = threshold
        return threshold

    def _decide(self, candidate: tuple[int, int, float], beats: list[int]) -> None:
        position, _, size = candidate
        last = self._last
        if (
            last is not None
            and len(self._missed) > self._dismissed
            and position > last[0] + SEARCH_BACK_RR * self._usual_rr
        ):  # else search-back has nothing to do yet
            self._search_back(position, beats)
            last = self._last
        if last is not None and position - last[0] < self._design.refractory:
            return
        threshold = self._cached_threshold
        if threshold is None:
            threshold = self._threshold()
        verdict = self._rhythm_choice(candidate) if self._noisy else None
        if verdict is None:
            verdict = size > threshold and not self._is_t_wave(candidate) and not self._has_rival(candidate)
        if verdict:
            if self._missed:  # else no complex can be hidden
                self._rescue(position, beats)
            self._accept(candidate, beats)
        else:
            self._noise.append(size)
            self._cached_threshold = None
            self._missed.append(candidate)
            if len(self._missed) > 2 * MISSED_KEPT:  # bounded memory through a long stretch of noise
                del self._missed[:MISSED_KEPT]
                self._dismissed = max(0, self._dismissed - MISSED_KEPT)

    def _rhythm_choice(self, candidate: tuple[int, int, float]) -> bool | None:
        """Through noise (called only when self._noisy), a complex with rivals too close to it for both
        to be beats is the beat when the path of beats it starts is the most regular: the sum over the
        path's RRs of their distance to the usual RR (relative, at most 1 each, a missing beat 1). None
        where the levels decide: before the rhythm is known, for a complex under the search-back floor
        or a T wave, or with no rival. Paths end within the look-ahead, so any chunking sees them whole.
        """
        last = self._last
        if last is None or len(self._rr) < RHYTHM_KNOWN:
            return None
        floor = SEARCH_BACK_FRACTION * self._threshold()
        if candidate[2] <= floor or self._is_t_wave(candidate):
            return None
        rr = self._usual_rr
        until = candidate[0] + LOOKAHEAD_RR * rr
        plausible = [candidate]
        for other in self._queue:
            if other[0] > until:
                break
            if other[2] > floor:
                plausible.append(other)
        rivals = [
            c
            for c in plausible[1:]
            if c[0] < candidate[0] + CONFLICT_RR * rr and not self._follows_as_t_wave(candidate, c)
        ]
        if not rivals:
            return None
        refractory = self._design.refractory

        def cost(previous: tuple[int, int, float], beat: tuple[int, int, float], depth: int) -> float:
            here = min(1.0, abs(beat[0] - previous[0] - rr) / rr)
            if depth == 1:
                return here
            followers = [
                c
                for c in plausible
                if beat[0] + refractory <= c[0] <= beat[0] + FOLLOW_RR * rr
                and not self._follows_as_t_wave(beat, c)
            ]
            return here + min((cost(beat, c, depth - 1) for c in followers), default=float(depth - 1))

        best = min([candidate, *rivals], key=lambda c: cost(last, c, PATH_BEATS))  # a tie: the earliest
        return best is candidate

    def _follows_as_t_wave(self, beat: tuple[int, int, float], other: tuple[int, int, float]) -> bool:
        """`other` would be the T wave of `beat`, were `beat` a beat."""
        return other[0] - beat[0] < self._design.t_wave and other[2] < T_WAVE_FRACTION * beat[2]

    def _has_rival(self, candidate: tuple[int, int, float]) -> bool:
        """A premature complex with a bigger one close behind it: the bigger one is the beat."""
        last = self._last
        if (
            last is None
            or len(self._rr) < RHYTHM_KNOWN
            or candidate[0] - last[0] >= PREMATURE_RR * self._usual_rr
        ):
            return False
        until = candidate[0] + RIVAL_RR * self._usual_rr
        for other in self._queue:
            if other[0] > until:
                return False
            if other[2] > candidate[2]:
                return True
        return False

    def _is_t_wave(self, candidate: tuple[int, int, float]) -> bool:
        last = self._last
        return (
            last is not None
            and candidate[0] - last[0] < self._design.t_wave
            and candidate[2] < T_WAVE_FRACTION * last[2]
        )

    def _search_back(self, now: int | None, beats: list[int]) -> None:
        """Over a gap of more than 1.66 usual RRs, accept the biggest peak missed in it."""
        while self._last is not None and len(self._missed) > self._dismissed:
            limit = self._last[0] + SEARCH_BACK_RR * self._usual_rr
            if now is not None and now <= limit:
                return
            floor = SEARCH_BACK_FRACTION * self._threshold()
            eligible = [c for c in self._missed[self._dismissed :] if c[2] > floor and not self._is_t_wave(c)]
            if not eligible:
                self._dismissed = len(self._missed)
                return
            best = max(eligible, key=lambda c: c[2])
            self._missed = [c for c in self._missed if c[0] > best[0]]
            self._accept(best, beats, keep_missed=True)

    def _rescue(self, until: int, beats: list[int]) -> None:
        """A gap closed by a beat at `until`: accept complexes hidden in it, much smaller than its
        neighbours (normal beats between tall ventricular ones in bigeminy or trigeminy).

        The signal level, set by the tall beats, passes them over as noise, and the usual RR, learnt
        from the tall beats alone, is too long for search-back. A hidden beat shows as a gap longer
        than 1.5 usual RRs (or, in a slow rhythm, as a complex recurring at the same place in each gap)
        with one complex dominating it away from both ends and from the T wave, well above the noise.
        """
        design = self._design
        while self._missed:
            if self._last is None:  # before the first beat: a gap of unknown start
                start, gap, usual = self._missed[0][0], 0, True
                eligible = [c for c in self._missed if design.qt <= c[0] <= until - design.qt]
            else:
                start = self._last[0]
                gap = until - start
                usual = gap >= RESCUE_RR * self._usual_rr
                if not usual and gap < design.slow_gap:
                    return
                split = RESCUE_SPLIT * gap
                earliest = start + max(split, design.qt)
                eligible = [
                    c for c in self._missed if earliest <= c[0] <= until - split and not self._is_t_wave(c)
                ]
            if not eligible:
                self._echo = None
                return
            best = max(eligible, key=lambda c: c[2])
            rival = max(
                (c[2] for c in self._missed if c is not best and abs(c[0] - best[0]) < design.qt), default=0.0
            )
            noise = list(self._noise.ordered)
            if best[2] in noise:
                noise.remove(best[2])  # it was counted as noise when passed over
            if (
                best[2] < RESCUE_FRACTION * self._signal.quantile(0.25)
                or best[2] < RESCUE_DOMINANCE * rival
                or (noise and best[2] < RESCUE_NOISE * _quantile(noise, 0.5))
            ):
                self._echo = None
                return
            echo, self._echo = self._echo, ((best[0] - start) / max(1, gap), best[2])
            if not usual and not self._recurs(echo, best[2]):
                return
            self._hidden, self._beats_since_hidden = best[2], -1
            self._missed = [c for c in self._missed if c[0] > best[0]]
            if len(noise) < len(self._noise):
                self._noise.remove(best[2])
            self._cached_threshold = None
            self._accept(best, beats, keep_missed=True)

    def _recurs(self, echo: tuple[float, float] | None, size: float) -> bool:
        """In a slow rhythm, a hidden complex counts when the last gap had one alike, or when it matches
        a hidden beat found a few beats before (the second hidden beat of a trigeminy gap)."""
        assert self._echo is not None
        if echo is not None and _alike(echo, self._echo):
            return True
        hidden = self._hidden
        return (
            hidden is not None
            and self._beats_since_hidden <= ECHO_BEATS
            and _alike((0.0, hidden), (0.0, size))
        )

    def _accept(self, candidate: tuple[int, int, float], beats: list[int], keep_missed: bool = False) -> None:
        last = self._last
        if last is not None:
            rr = candidate[0] - last[0]
            if self._design.rr_min <= rr <= self._design.rr_max:
                self._rr.append(rr)
                self._usual_rr = self._rr.median
        self._signal.append(candidate[2])
        self._beats_since_hidden += 1
        self._cached_threshold = None
        self._last = candidate
        self._dismissed = 0
        if not keep_missed:
            self._missed.clear()
        beats.append(candidate[1])


def _checked_rate(sampling_rate_hz: float) -> float:
    if not math.isfinite(sampling_rate_hz) or sampling_rate_hz <= 0:
        raise ValueError("sampling_rate_hz must be a positive number")
    return float(sampling_rate_hz)


def _lookahead(design: _Design) -> int:
    """Samples past a candidate that stage 2 needs before it is final (so stage 3 may decide it)."""
    return design.dominance + design.r_search + 1


class BeatDetector:
    """Streaming R-peak detector: feed chunks, get the beats that became final, then finish.

    Whatever the chunking, everything returned, concatenated, equals `detect_beats` of the whole
    signal. Memory stays bounded by a block of samples and a few seconds of candidates.
    """

    def __init__(self, sampling_rate_hz: float) -> None:
        design = _design(_checked_rate(sampling_rate_hz))
        self._features = _FeatureStream(design)
        self._candidates = _CandidateStream(design)
        self._decision = _Decision(design)
        self._lookahead = _lookahead(design)

    def feed(self, chunk: npt.ArrayLike) -> IndexArray:
        """Add the next samples; returns the absolute sample indices of beats now final."""
        samples = np.asarray(chunk, dtype=np.float64).ravel()
        return self._run(self._features.feed(samples), final=False)

    def finish(self) -> IndexArray:
        """End of signal: returns the remaining beats."""
        return self._run(self._features.finish(), final=True)

    def _run(self, blocks: list[tuple[int, FloatArray, FloatArray]], final: bool) -> IndexArray:
        beats: list[int] = []
        for start, level, energy in blocks:
            candidates = self._candidates.add(start, level, energy, final and start == blocks[-1][0])
            horizon = start + len(energy) - self._lookahead
            beats += self._decision.add(candidates, horizon)
        if final:
            beats += self._decision.add([], None)
        return np.asarray(beats, dtype=np.int64)


def detect_beats(signal: npt.ArrayLike, sampling_rate_hz: float) -> IndexArray:
    """R-peak sample indices (ascending) of one ECG lead in any units, with any baseline offset."""
    return detect_beats_many([signal], sampling_rate_hz)[0]


def detect_beats_many(signals: Sequence[npt.ArrayLike], sampling_rate_hz: float) -> list[IndexArray]:
    """`detect_beats` of each lead (the same beats), faster for the leads of one ECG: leads of equal
    length that fit one block share each NumPy call."""
    design = _design(_checked_rate(sampling_rate_hz))
    raw = [np.asarray(signal).ravel() for signal in signals]
    found: list[IndexArray | None] = [None] * len(raw)
    alike: dict[tuple[int, bool], list[int]] = {}  # one-block leads by length and integer-ness
    for index, samples in enumerate(raw):
        if len(samples) < BLOCK_SAMPLES + design.context:
            alike.setdefault((len(samples), _integer_lead(samples, design)), []).append(index)
        else:  # longer: streamed in blocks
            detector = BeatDetector(sampling_rate_hz)
            found[index] = np.concatenate([detector.feed(samples), detector.finish()])
    for (length, integer), indices in alike.items():
        leads = [raw[i] if integer else raw[i].astype(np.float64) for i in indices]
        for index, beats in zip(indices, _detect_one_block(leads, length, design, integer), strict=True):
            found[index] = beats
    return [beats for beats in found if beats is not None]


def _integer_lead(samples: npt.NDArray[np.generic], design: _Design) -> bool:
    """Whether a lead's smoothing may be done in integers: integers of up to 32 bits differ by under
    2**33, so the smoothing's sums (at most `smoothing`**2 terms) stay exact in float64."""
    return (
        samples.dtype.kind in "iu"
        and samples.dtype.itemsize <= 4
        and design.smoothing * design.smoothing < 1 << (53 - 33)
    )


def _detect_one_block(
    leads: list[npt.NDArray[np.generic]], length: int, design: _Design, integer: bool
) -> list[IndexArray]:
    """`detect_beats` of leads of `length` samples, which the stream takes as one block (at its end),
    without the stream's bookkeeping: the same arithmetic on the same numbers, so the same beats.
    Leads are float64, or integers when `integer` (see `_integer_lead`)."""
    if length == 0:
        return [np.zeros(0, dtype=np.int64) for _ in leads]
    context = design.context
    group = max(1, GROUP_SAMPLES // length)
    candidates: list[list[tuple[int, int, float]]] = []
    for begin in range(0, len(leads), group):
        rows = leads[begin : begin + group]
        scratch = _row_scratch(len(rows), length + 2 * context, length)
        # The stream's window: the block with its context on each side, padded with the first
        # and last samples, less its first sample (in int64 or float64: no int32 wrap-around).
        centred = scratch.integers if integer else scratch.centred
        block = centred[:, context : context + length]
        np.stack(rows, out=block)
        block -= block[:, :1].copy()
        centred[:, :context] = block[:, :1]  # 0, or NaN where the first sample is not finite
        centred[:, context + length :] = block[:, -1:]
        candidates += _block_candidates(*_row_features(scratch, design, integer), design)
    horizon = length - _lookahead(design)
    found = []
    for lead in candidates:
        decision = _Decision(design)
        beats = decision.add(lead, horizon)
        beats += decision.add([], None)
        found.append(np.asarray(beats, dtype=np.int64))
    return found


def _block_candidates(
    levels: FloatArray, energies: FloatArray, design: _Design
) -> list[list[tuple[int, int, float]]]:
    """Stage 2 of whole one-block leads (rows, contiguous), all at once: what `_CandidateStream`
    finds in each.

    The rows are laid end to end; the energy peaks of a row, and their windows, stay in the row."""
    count, length = energies.shape
    mask = np.zeros((count, length), dtype=bool)
    middle = energies[:, 1:-1]
    np.greater(middle, energies[:, :-2], out=mask[:, 1:-1])
    mask[:, 1:-1] &= middle >= energies[:, 2:]
    if length >= 2:  # the signal ends here: a last sample still rising is a peak
        np.greater(energies[:, -1], energies[:, -2], out=mask[:, -1])
    flat = mask.ravel().nonzero()[0]  # by row, then by sample
    row_starts = flat - flat % length
    # dominance, on positions spread so that rows are further apart than the dominance distance
    reach = design.dominance
    energy = energies.ravel()
    kept = _dominant(flat + row_starts // length * (2 * reach + 2), energy[flat], reach)
    starts = row_starts[kept]
    peaks = flat[kept]
    positions = peaks - starts  # in the row
    # the R peak and the balance of the edges, in windows clipped to the row (as the stream clips)
    qrs_reach, search = design.qrs_reach, design.r_search
    # (a complex per column: reductions across rows are vectorised, along short rows they are slow)
    windows = np.arange(-qrs_reach, qrs_reach + 1)[:, None] + positions
    np.clip(windows, 0, length - 1, out=windows)
    around = np.take(levels.ravel(), windows + starts)
    strongest = np.abs(around[qrs_reach - search : qrs_reach + search + 1]).argmax(axis=0)
    r_peaks = windows[qrs_reach - search + strongest, np.arange(len(peaks))]
    sizes = np.sqrt(energy[peaks]) * _edge_balance(around)
    rows = np.searchsorted(starts, np.arange(count + 1) * length).tolist()
    described = list(zip(positions.tolist(), r_peaks.tolist(), sizes.tolist(), strict=True))
    return [described[rows[row] : rows[row + 1]] for row in range(count)]


@dataclass(frozen=True)
class RhythmStats:
    """Beat count and RR-interval summary, each value rounded to 0.1; None where undefined."""

    beats: int
    heart_rate_bpm: float | None
    rr_mean_ms: float | None
    rr_sdnn_ms: float | None
    rr_rmssd_ms: float | None


def _summary(
    beats: int, rr_sum: int, rr_squares: int, successive_squares: int, ms_per_sample: float
) -> RhythmStats:
    """As the contract defines them: mean RR, heart rate (60000 / the unrounded mean RR) and
    SDNN, the standard deviation of the RR intervals (over all of them, n in the
    denominator), are None below 2 beats; RMSSD, the root mean square of successive RR
    differences, below 3. One decimal each. From exact integer sums of the RRs in samples."""
    intervals = beats - 1
    if intervals < 1:
        return RhythmStats(beats, None, None, None, None)
    mean_ms = rr_sum / intervals * ms_per_sample
    spread = intervals * rr_squares - rr_sum * rr_sum  # exact: n^2 * variance
    sdnn_ms = math.sqrt(spread) / intervals * ms_per_sample
    rmssd_ms = (
        round(math.sqrt(successive_squares / (intervals - 1)) * ms_per_sample, 1) if intervals >= 2 else None
    )
    return RhythmStats(beats, round(60000 / mean_ms, 1), round(mean_ms, 1), round(sdnn_ms, 1), rmssd_ms)


def rr_statistics(beats: npt.ArrayLike, sampling_rate_hz: float) -> RhythmStats:
    """RR statistics of strictly ascending beat sample indices (see `_summary`), from exact
    integer sums of the RRs in samples: int64 arithmetic where no sum can overflow it (a day
    of beats stays a few MB), Python integers otherwise."""
    if not math.isfinite(sampling_rate_hz) or sampling_rate_hz <= 0:
        raise ValueError("sampling_rate_hz must be a positive number")
    values = np.asarray(beats, dtype=np.int64).ravel()
    rr = np.diff(values)
    if rr.size and int(rr.min()) <= 0:
        raise ValueError("beats must be strictly ascending")
    steps = np.diff(rr)
    largest = int(rr.max()) if rr.size else 0
    if (2 * largest) ** 2 * max(rr.size, 1) < 2**62:
        sums = int(rr.sum()), int(np.dot(rr, rr)), int(np.dot(steps, steps))
    else:
        exact_rr: list[int] = rr.tolist()
        exact_steps: list[int] = steps.tolist()
        sums = (
            sum(exact_rr),
            sum(map(operator.mul, exact_rr, exact_rr)),
            sum(map(operator.mul, exact_steps, exact_steps)),
        )
    return _summary(values.size, *sums, 1000.0 / sampling_rate_hz)
