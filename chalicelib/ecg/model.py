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
    sampling_rate_hz: float | None
    leads: list[LeadUpload]


@dataclass(frozen=True)
class UploadAnnouncement:
    """A validated POST /ecgs/uploads body: the file itself comes later, to S3."""

    ecg_id: str | None
    date: str
    format: str
    size_bytes: int


class LeadSummary(msgspec.Struct):
    name: str
    number_of_samples: int
    signal: list[int] | msgspec.UnsetType = msgspec.UNSET  # only when the ECG itself is read


class EcgSummary(msgspec.Struct):
    """What lists and creates show of an ECG; reading it adds each lead's signal."""

    id: str
    date: str
    created_at: str
    status: str
    sampling_rate_hz: int | float | None
    leads: list[LeadSummary]
    error: str | msgspec.UnsetType = msgspec.UNSET  # why a `failed` ECG failed


class UploadTarget(msgspec.Struct):
    """Where and how the client sends the file: exactly this method, URL and headers."""

    method: str
    url: str
    headers: dict[str, str]
    expires_at: str


class UploadTicket(msgspec.Struct):
    id: str
    status: str
    upload: UploadTarget


class LeadInsights(msgspec.Struct):
    """One field per value of chalicelib.ecg.insights.CALCULATORS (a test keeps them equal)."""

    name: str
    number_of_samples: int
    zero_crossings: int
    beats: int | None
    heart_rate_bpm: float | None
    rr_mean_ms: float | None
    rr_sdnn_ms: float | None
    rr_rmssd_ms: float | None


class EcgInsights(msgspec.Struct):
    id: str
    leads: list[LeadInsights]


class SignalWindow(msgspec.Struct):
    id: str
    lead: str
    sampling_rate_hz: int | float | None
    start: int
    signal: list[int]


class LeadBeats(msgspec.Struct):
    id: str
    lead: str
    sampling_rate_hz: int | float | None
    beats: list[int] | None
