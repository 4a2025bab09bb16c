"""`python bench/rhythm.py`: beat detection accuracy and speed on the real annotated records.

Our detector is scored beside NeuroKit2's `ecg_peaks` methods and WFDB's XQRS (when installed:
`pip install -r requirements-bench.txt`), each on the same records in the same process.
Scoring as ANSI/AAMI EC57: a detection matches a reference beat within 150 ms, one to one.
Heart rate = 60000 / mean RR in ms. Time is the median of repeated runs, in ms per minute of signal.
"""

from __future__ import annotations

import math
import os
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from chalicelib.ecg.rhythm import BeatDetector, detect_beats  # noqa: E402

RECORDS = ROOT / "tests" / "data" / "ecg-records"
NAMES = ("mitdb_100", "mitdb_105", "mitdb_200", "svdb_800")
TOLERANCE_S = 0.15
RUNS = int(os.environ.get("BENCH_RUNS", "7"))
TARGET_F1 = 99.8
TARGET_HR_ERROR = 0.2
TARGET_MS_PER_MINUTE = 2.0
NEUROKIT_METHODS = ("neurokit", "pantompkins1985", "hamilton2002", "elgendi2010")

Detector = Callable[[npt.NDArray[np.float64], float], npt.NDArray[np.int64]]


@dataclass(frozen=True)
class Record:
    name: str
    raw: npt.NDArray[Any]  # as stored (int16 ADC units); a derived signal's is its millivolts
    millivolts: npt.NDArray[np.float64]
    fs: float
    beats: npt.NDArray[np.int64]

    @property
    def minutes(self) -> float:
        return len(self.raw) / self.fs / 60


@dataclass(frozen=True)
class Score:
    tp: int
    fp: int
    fn: int

    def __add__(self, other: Score) -> Score:
        return Score(self.tp + other.tp, self.fp + other.fp, self.fn + other.fn)

    @property
    def sensitivity(self) -> float:
        return 100 * self.tp / max(1, self.tp + self.fn)

    @property
    def positive_predictivity(self) -> float:
        return 100 * self.tp / max(1, self.tp + self.fp)

    @property
    def f1(self) -> float:
        return 100 * 2 * self.tp / max(1, 2 * self.tp + self.fp + self.fn)


def match(reference: npt.NDArray[np.int64], detected: npt.NDArray[np.int64], fs: float) -> Score:
    """One-to-one matching: each reference beat takes the nearest free detection within 150 ms."""
    tolerance = TOLERANCE_S * fs
    detected = np.sort(np.asarray(detected, dtype=np.int64))
    used = np.zeros(len(detected), dtype=bool)
    nearest = np.searchsorted(detected, reference)
    tp = 0
    for beat, right in zip(reference.tolist(), nearest.tolist(), strict=True):
        options = [i for i in (right - 1, right) if 0 <= i < len(detected) and not used[i]]
        options = [i for i in options if abs(int(detected[i]) - beat) <= tolerance]
        if options:
            used[min(options, key=lambda i: abs(int(detected[i]) - beat))] = True
            tp += 1
    return Score(tp, len(detected) - tp, len(reference) - tp)


def heart_rate(beats: npt.NDArray[np.int64], fs: float) -> float:
    """60000 / mean RR in ms; NaN with fewer than two beats."""
    if len(beats) < 2:
        return float("nan")
    return 60 * fs * (len(beats) - 1) / float(beats[-1] - beats[0])


def load(name: str) -> Record:
    with np.load(RECORDS / f"{name}.npz") as data:
        raw = data["signal"]
        millivolts = (raw.astype(np.float64) - float(data["baseline"])) / float(data["adc_gain"])
        return Record(name, raw, millivolts, float(data["fs"]), data["beats"].astype(np.int64))


def ours(record: Record) -> npt.NDArray[np.int64]:
    return detect_beats(record.raw, record.fs)


def neurokit(method: str) -> Callable[[Record], npt.NDArray[np.int64]]:
    import neurokit2 as nk

    clean_method = "neurokit" if method == "neurokit" else method

    def run(record: Record) -> npt.NDArray[np.int64]:
        cleaned = nk.ecg_clean(record.millivolts, sampling_rate=record.fs, method=clean_method)
        _, info = nk.ecg_peaks(cleaned, sampling_rate=record.fs, method=method)
        return np.asarray(info["ECG_R_Peaks"], dtype=np.int64)

    return run


def xqrs(record: Record) -> npt.NDArray[np.int64]:
    from wfdb import processing

    return np.asarray(
        processing.xqrs_detect(sig=record.millivolts, fs=record.fs, verbose=False), dtype=np.int64
    )


def detectors() -> dict[str, tuple[Callable[[Record], npt.NDArray[np.int64]], int]]:
    """Each detector that can run here, with how many timed runs it gets (the slow ones: one)."""
    found: dict[str, tuple[Callable[[Record], npt.NDArray[np.int64]], int]] = {"ecg-insights": (ours, RUNS)}
    try:
        import neurokit2  # noqa: F401
    except ImportError:
        print("neurokit2 not installed: its rows are skipped (pip install -r requirements-bench.txt)")
    else:
        for method in NEUROKIT_METHODS:
            found[f"nk-{method}"] = (neurokit(method), 3)
    try:
        import wfdb  # noqa: F401
    except ImportError:
        print("wfdb not installed: the XQRS rows are skipped")
    else:
        found["wfdb-xqrs"] = (xqrs, 1)
    return found


def timed(
    run: Callable[[Record], npt.NDArray[np.int64]], record: Record, runs: int
) -> tuple[npt.NDArray[np.int64], float]:
    seconds = []
    for _ in range(runs):
        started = time.perf_counter()
        beats = run(record)
        seconds.append(time.perf_counter() - started)
    return beats, statistics.median(seconds) * 1000 / record.minutes


def resampled(record: Record, fs: float) -> Record:
    """The record linearly interpolated to another sampling rate, its beats moved to match."""
    times = np.arange(round(len(record.raw) * fs / record.fs)) / fs
    millivolts = np.interp(times, np.arange(len(record.raw)) / record.fs, record.millivolts)
    beats = np.round(record.beats * fs / record.fs).astype(np.int64)
    name = f"{record.name}@{fs:g}"
    return replace(record, name=name, raw=millivolts, millivolts=millivolts, fs=fs, beats=beats)


def qrs_power(record: Record) -> float:
    """Signal power as the MIT-BIH Noise Stress Test defines it: (peak-to-peak QRS amplitude)^2 / 8."""
    reach = round(0.05 * record.fs)
    beats = record.beats[(record.beats >= reach) & (record.beats < len(record.millivolts) - reach)]
    windows = record.millivolts[beats[:, None] + np.arange(-reach, reach + 1)]
    return float(np.median(np.ptp(windows, axis=1))) ** 2 / 8


def with_noise(record: Record, label: str, noise: npt.NDArray[np.float64]) -> Record:
    millivolts = record.millivolts + noise
    return replace(record, name=f"{record.name}+{label}", raw=millivolts, millivolts=millivolts)


def muscle_noise(record: Record, rng: np.random.Generator) -> Record:
    """EMG-like: white Gaussian noise at 6 dB SNR."""
    sigma = math.sqrt(qrs_power(record) / 10 ** (6 / 10))
    return with_noise(record, "emg6dB", rng.normal(0, sigma, len(record.millivolts)))


def baseline_wander(record: Record, rng: np.random.Generator) -> Record:
    """Respiration-like: a 0.3 Hz sine of 2 mV amplitude."""
    times = np.arange(len(record.millivolts)) / record.fs
    return with_noise(record, "wander", 2.0 * np.sin(2 * np.pi * 0.3 * times + rng.uniform(0, 2 * np.pi)))


def electrode_motion(record: Record, rng: np.random.Generator) -> Record:
    """Electrode-motion-like: random baseline steps decaying over ~0.3 s, and bursts of 1-10 Hz
    noise lasting 1-5 s over about a fifth of the record, at 6 dB SNR within a burst."""
    length, fs = len(record.millivolts), record.fs
    noise = np.zeros(length)
    steps = np.flatnonzero(rng.random(length) < 0.2 / fs)  # about one step every 5 s
    impulses = np.zeros(length)
    impulses[steps] = rng.normal(0, 1.0, len(steps))
    decay = np.exp(-np.arange(round(1.5 * fs)) / (0.3 * fs))
    noise += np.convolve(impulses, decay)[:length]
    sigma = math.sqrt(qrs_power(record) / 10 ** (6 / 10))
    start = 0
    while start < length:
        start += int(rng.exponential(12 * fs))
        duration = int(rng.uniform(1, 5) * fs)
        burst = np.cumsum(rng.normal(0, 1, duration + 2 * round(fs / 10)))
        kernel_low, kernel_high = round(fs / 10), round(fs / 20)
        band = np.convolve(burst, np.ones(kernel_high) / kernel_high, "same") - np.convolve(
            burst, np.ones(2 * kernel_low + 1) / (2 * kernel_low + 1), "same"
        )
        band = band[round(fs / 10) : round(fs / 10) + duration]
        band *= sigma / max(float(np.std(band)), 1e-12) * np.hanning(duration)
        end = min(length, start + duration)
        noise[start:end] += band[: max(0, end - start)]
    return with_noise(record, "motion", noise)


def robustness_variants(records: list[Record]) -> list[Record]:
    """Signals not in the records as such: inverted, resampled, with added noise (seeded)."""
    rng = np.random.default_rng(57)
    variants = []
    for record in records:
        variants.append(
            replace(record, name=f"{record.name}-inv", raw=-record.millivolts, millivolts=-record.millivolts)
        )
        variants += [resampled(record, fs) for fs in (250.0, 500.0, 1000.0)]
        variants += [make(record, rng) for make in (muscle_noise, baseline_wander, electrode_motion)]
    return variants


def chunked(record: Record, rng: np.random.Generator) -> npt.NDArray[np.int64]:
    """Our detector fed in random uneven chunks, from 1 sample to 200 000."""
    detector = BeatDetector(record.fs)
    parts, start = [], 0
    while start < len(record.raw):
        size = int(rng.choice([1, 7, 1000, 65_536, 200_000]))
        parts.append(detector.feed(record.raw[start : start + size]))
        start += size
    parts.append(detector.finish())
    return np.concatenate(parts)


HEADER = f"{'detector':<22}{'record':<11}{'TP':>6}{'FP':>5}{'FN':>5}{'Se%':>8}{'+P%':>8}{'F1%':>8}{'HRref':>8}{'HRdet':>8}{'HRerr':>7}{'ms/min':>9}"


def row(name: str, record: str, score: Score, hr_ref: float, hr_det: float, ms: float) -> str:
    return (
        f"{name:<22}{record:<11}{score.tp:>6}{score.fp:>5}{score.fn:>5}{score.sensitivity:>8.2f}"
        f"{score.positive_predictivity:>8.2f}{score.f1:>8.2f}{hr_ref:>8.2f}{hr_det:>8.2f}{abs(hr_det - hr_ref):>7.2f}{ms:>9.2f}"
    )


def robustness(records: list[Record], runners: dict[str, Callable[[Record], npt.NDArray[np.int64]]]) -> None:
    """F1 and mean |HR error| over the four records for each kind of derived signal."""
    kinds: dict[str, list[Record]] = {}
    for variant in robustness_variants(records):
        kinds.setdefault(variant.name.split("_", 1)[1].lstrip("0123456789"), []).append(variant)
    print(f"robustness: {'signal':<12}" + "".join(f"{name + ' F1%':>20}{'HRerr':>7}" for name in runners))
    for kind, variants in kinds.items():
        cells = ""
        for run in runners.values():
            total, errors = Score(0, 0, 0), []
            for variant in variants:
                beats = run(variant)
                total += match(variant.beats, beats, variant.fs)
                errors.append(abs(heart_rate(beats, variant.fs) - heart_rate(variant.beats, variant.fs)))
            cells += f"{total.f1:>20.2f}{statistics.mean(errors):>7.2f}"
        print(f"{'':<12}{kind:<12}{cells}")
    print()


def main() -> None:
    if not RECORDS.is_dir():
        sys.exit(f"records not found at {RECORDS}")
    warnings.simplefilter("ignore")
    records = [load(name) for name in NAMES]
    print(
        f"targets: total F1 >= {TARGET_F1}%, mean |HR error| <= {TARGET_HR_ERROR} bpm, <= {TARGET_MS_PER_MINUTE} ms per minute at 360 Hz"
    )
    print(HEADER)
    found = detectors()
    for name, (run, runs) in found.items():
        total, errors, speeds = Score(0, 0, 0), list[float](), list[float]()
        for record in records:
            try:
                beats, ms = timed(run, record, runs)
            except Exception as error:  # a baseline that fails on a record is reported, not fatal
                print(f"{name:<22}{record.name:<11} failed: {type(error).__name__}: {error}")
                continue
            score = match(record.beats, beats, record.fs)
            hr_ref, hr_det = heart_rate(record.beats, record.fs), heart_rate(beats, record.fs)
            total, errors = total + score, [*errors, abs(hr_det - hr_ref)]
            if record.fs == 360:
                speeds.append(ms)
            print(row(name, record.name, score, hr_ref, hr_det, ms))
        if errors:
            print(
                f"{name:<22}{'TOTAL':<11}{total.tp:>6}{total.fp:>5}{total.fn:>5}{total.sensitivity:>8.2f}"
                f"{total.positive_predictivity:>8.2f}{total.f1:>8.2f}{'':>16}{statistics.mean(errors):>7.2f}"
                f"{statistics.median(speeds) if speeds else float('nan'):>9.2f}   (mean HR error, median ms/min at 360 Hz)"
            )
        print()
    robustness(records, {name: found[name][0] for name in ("ecg-insights", "wfdb-xqrs") if name in found})
    rng = np.random.default_rng(2024)
    for record in records:
        same = np.array_equal(chunked(record, rng), detect_beats(record.raw, record.fs))
        print(f"chunked == whole on {record.name}: {'yes' if same else 'NO'}")


if __name__ == "__main__":
    main()
