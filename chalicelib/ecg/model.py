"""The ECG use cases' typed inputs and results (results are what the API serialises)."""

from __future__ import annotations

from dataclasses import dataclass

import msgspec
import numpy as np


@dataclass(frozen=True)
class LeadUpload:
    name: str
    signal: np.ndarray


@dataclass(frozen=True)
class EcgUpload:
    """A validated POST /ecgs body: every rule of the contract already holds."""

    ecg_id: str | None
    date: str
    leads: list[LeadUpload]


class LeadSummary(msgspec.Struct):
    name: str
    number_of_samples: int


class EcgSummary(msgspec.Struct):
    id: str
    date: str
    created_at: str
    leads: list[LeadSummary]


class LeadWithSignal(msgspec.Struct):
    name: str
    number_of_samples: int
    signal: list[int]


class EcgWithSignals(msgspec.Struct):
    id: str
    date: str
    created_at: str
    leads: list[LeadWithSignal]


class LeadInsights(msgspec.Struct):
    name: str
    number_of_samples: int
    zero_crossings: int


class EcgInsights(msgspec.Struct):
    id: str
    leads: list[LeadInsights]
