"""ECG use cases: compute insights, pack, store; and read them back for their owner."""

from __future__ import annotations

import uuid
from decimal import Decimal

import msgspec
import numpy as np

from chalicelib.clock import now_iso
from chalicelib.ecg import insights, rhythm
from chalicelib.ecg.codec import decode_signals, encode_signals
from chalicelib.ecg.model import (
    EcgInsights,
    EcgSummary,
    EcgUpload,
    LeadBeats,
    LeadInsights,
    LeadSummary,
    SignalWindow,
)
from chalicelib.errors import BadRequest, NotFound
from chalicelib.rules import EcgId, is_valid
from chalicelib.store import ecgs
from chalicelib.store.models import EcgItem, LeadSummaryAttribute

MAX_SAMPLES_IN_ONE_READ = 2_000_000  # a longer recording is read by window


def _rate(item: EcgItem) -> float | None:
    return None if item.sampling_rate_hz is None else float(item.sampling_rate_hz)


def _shown_rate(item: EcgItem) -> int | float | None:
    """The rate as the client sent it: 500 stays 500, not 500.0."""
    rate = _rate(item)
    return int(rate) if rate is not None and rate.is_integer() else rate


def summary(item: EcgItem, signals: list[np.ndarray] | None = None) -> EcgSummary:
    if signals is None:
        leads = [LeadSummary(lead.name, int(lead.number_of_samples)) for lead in item.leads]
    else:
        leads = [
            LeadSummary(lead.name, signal.size, signal.tolist())
            for lead, signal in zip(item.leads, signals, strict=True)
        ]
    return EcgSummary(
        id=item.ecg_id,
        date=item.date,
        created_at=item.created_at,
        status=item.status,
        sampling_rate_hz=_shown_rate(item),
        leads=leads,
    )


def _lead_attributes(upload: EcgUpload) -> list[LeadSummaryAttribute]:
    """Every lead's insights, the beats of all leads found together (faster than one by one)."""
    results = insights.compute_many([lead.signal for lead in upload.leads], upload.sampling_rate_hz)
    return [
        LeadSummaryAttribute(  # type: ignore[no-untyped-call]
            name=lead.name, number_of_samples=lead.signal.size, insights=values, insight_versions=versions
        )
        for lead, (values, versions) in zip(upload.leads, results, strict=True)
    ]


def _new_id(request_key: str | None) -> str:
    """A UUID; the same one for every repeat of a request with an Idempotency-Key."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, request_key) if request_key else uuid.uuid4())


def create(owner: str, upload: EcgUpload, request_key: str | None = None) -> EcgSummary:
    """`request_key` identifies a request the client may repeat (its Idempotency-Key): a repeat
    that runs again after a 503 finds its own ECG instead of storing a second one."""
    item = EcgItem(
        owner,
        upload.ecg_id or _new_id(request_key),
        date=upload.date,
        created_at=now_iso(),
        sampling_rate_hz=upload.sampling_rate_hz,
        leads=_lead_attributes(upload),
    )
    ecgs.create_ecg(item, encode_signals([lead.signal for lead in upload.leads]), request_key)
    return summary(item)


def _owned(owner: str, ecg_id: str) -> EcgItem:
    """Another user's ECG is not found: the key includes the owner, so it cannot be read."""
    item = ecgs.get_ecg(owner, ecg_id) if is_valid(ecg_id, EcgId) else None
    if item is None:
        raise NotFound("no such ECG", "ecg_not_found")
    return item


def read(owner: str, ecg_id: str) -> EcgSummary:
    """The summary with every lead's signal, unless the recording is too long for one response."""
    item = _owned(owner, ecg_id)
    if sum(int(lead.number_of_samples) for lead in item.leads) > MAX_SAMPLES_IN_ONE_READ:
        return summary(item)
    return summary(item, decode_signals(ecgs.get_payload(item)))


def read_insights(owner: str, ecg_id: str) -> EcgInsights:
    """Stored insights only; what a newer calculator version would compute differently is
    recomputed once and saved."""
    item = _owned(owner, ecg_id)
    stale = [insights.stale(dict(lead.insight_versions.as_dict())) for lead in item.leads]  # type: ignore[no-untyped-call]
    if any(stale):
        signals = decode_signals(ecgs.get_payload(item))
        for lead, names, signal in zip(item.leads, stale, signals, strict=True):
            values, versions = insights.compute(signal, _rate(item), names)
            lead.insights = {**lead.insights.as_dict(), **values}  # type: ignore[no-untyped-call]
            lead.insight_versions = {**lead.insight_versions.as_dict(), **versions}  # type: ignore[no-untyped-call]
        ecgs.save_leads(item)
    return EcgInsights(id=item.ecg_id, leads=[_lead_insights(lead) for lead in item.leads])


def _lead_insights(lead: LeadSummaryAttribute) -> LeadInsights:
    stored = lead.insights.as_dict()  # type: ignore[no-untyped-call]
    values = {name: _number(value) for name, value in stored.items()}
    return msgspec.convert(
        {"name": lead.name, "number_of_samples": int(lead.number_of_samples), **values}, LeadInsights
    )


def _number(value: int | float | Decimal | None) -> int | float | None:
    """DynamoDB gives numbers back as Decimal."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def _lead_index(item: EcgItem, lead_name: str) -> int:
    names = [lead.name for lead in item.leads]
    if lead_name not in names:
        raise NotFound(f"this ECG has no lead named {lead_name!r}", "lead_not_found")
    return names.index(lead_name)


def read_window(owner: str, ecg_id: str, lead_name: str, start: int, count: int) -> SignalWindow:
    """`count` samples of one lead from `start`, cut short at the lead's end."""
    item = _owned(owner, ecg_id)
    index = _lead_index(item, lead_name)
    length = int(item.leads[index].number_of_samples)
    if start >= length:
        raise BadRequest(f"start must be before the lead's end ({length} samples)", "invalid_query")
    signal = decode_signals(ecgs.get_payload(item))[index]
    window = signal[start : start + count]
    return SignalWindow(item.ecg_id, lead_name, _shown_rate(item), start, window.tolist())


def read_beats(owner: str, ecg_id: str, lead_name: str, start: int, end: int | None) -> LeadBeats:
    """The lead's beats in [start, end), found again by the same detector that counted them."""
    item = _owned(owner, ecg_id)
    index = _lead_index(item, lead_name)
    rate = _rate(item)
    if rate is None:
        return LeadBeats(item.ecg_id, lead_name, None, None)
    signal = decode_signals(ecgs.get_payload(item))[index]
    beats = rhythm.detect_beats(signal, rate)
    window = beats[(beats >= start) & (beats < (signal.size if end is None else end))]
    return LeadBeats(item.ecg_id, lead_name, _shown_rate(item), window.tolist())


def list_page(owner: str, limit: int, after: str | None) -> tuple[list[EcgSummary], str | None]:
    items, last = ecgs.list_ecgs(owner, limit, after)
    return [summary(item) for item in items], last


def delete(owner: str, ecg_id: str) -> None:
    ecgs.delete_ecg(_owned(owner, ecg_id))
