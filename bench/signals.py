"""ECG-like test signals: a PQRST template per beat, heart-rate variability, baseline
wander, mains hum and EMG noise, in units of 5 µV per LSB (a common resolution of 500 Hz
diagnostic ECGs; 4.88 µV in GE MUSE exports)."""

from __future__ import annotations

from typing import Any

import numpy as np

MICROVOLTS_PER_LSB = 5.0
LEAD_NAMES = ["I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6"]
# (centre as a fraction of the RR interval, width in seconds, amplitude in µV) for P, Q, R, S, T
WAVES = [
    (0.16, 0.025, 120.0),
    (0.245, 0.010, -150.0),
    (0.27, 0.012, 1100.0),
    (0.295, 0.010, -300.0),
    (0.55, 0.045, 280.0),
]
LEAD_GAINS = [1.0, 1.3, 0.4, -1.1, 0.6, 0.9, -0.6, 0.4, 0.9, 1.4, 1.2, 1.0]


def ecg_lead(samples: int, rate_hz: int, lead: int, rng: np.random.Generator) -> np.ndarray:
    time = np.arange(samples) / rate_hz
    intervals = rng.normal(60 / 72, 0.04, size=int(samples / rate_hz / 0.5) + 2)
    beats = np.concatenate([[0.0], np.cumsum(intervals)])
    beat = np.searchsorted(beats, time, side="right") - 1
    length = beats[beat + 1] - beats[beat]
    phase = (time - beats[beat]) / length
    microvolts = np.zeros(samples)
    for centre, width, amplitude in WAVES:
        microvolts += amplitude * np.exp(-(((phase - centre) * length) ** 2) / (2 * width**2))
    microvolts *= LEAD_GAINS[lead % len(LEAD_GAINS)]
    microvolts += 60 * np.sin(2 * np.pi * 0.25 * time + lead)
    microvolts += 8 * np.sin(2 * np.pi * 50 * time)
    microvolts += rng.normal(0, 10, samples)
    return np.round(microvolts / MICROVOLTS_PER_LSB).astype(np.int32)


def ecg_body(samples_per_lead: int, leads: int = 12, rate_hz: int = 500, seed: int = 1) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    return {
        "date": "2026-11-27T10:00:00Z",
        "sampling_rate_hz": rate_hz,
        "leads": [
            {
                "name": f"{LEAD_NAMES[index % 12]}-{index // 12}" if index >= 12 else LEAD_NAMES[index],
                "signal": ecg_lead(samples_per_lead, rate_hz, index, rng).tolist(),
            }
            for index in range(leads)
        ],
    }
