"""ECG use cases: compute insights, pack, store; and read them back for their owner."""

from __future__ import annotations

import uuid

from chalicelib.clock import now_iso
from chalicelib.ecg import insights
from chalicelib.ecg.codec import decode_signals, encode_signals
from chalicelib.ecg.model import (
    EcgInsights,
    EcgSummary,
    EcgUpload,
    EcgWithSignals,
    LeadInsights,
    LeadSummary,
    LeadWithSignal,
)
from chalicelib.errors import NotFound
from chalicelib.rules import EcgId, is_valid
from chalicelib.store import ecgs
from chalicelib.store.models import EcgItem, LeadSummaryAttribute


def summary(item: EcgItem) -> EcgSummary:
    return EcgSummary(
        id=item.ecg_id,
        date=item.date,
        created_at=item.created_at,
        leads=[LeadSummary(lead.name, int(lead.number_of_samples)) for lead in item.leads],
    )


def create(owner: str, upload: EcgUpload) -> EcgSummary:
    leads = [
        LeadSummaryAttribute(  # type: ignore[no-untyped-call]
            name=lead.name, number_of_samples=lead.signal.size, insights=insights.compute(lead.signal)
        )
        for lead in upload.leads
    ]
    item = EcgItem(
        owner,
        upload.ecg_id or str(uuid.uuid4()),
        date=upload.date,
        created_at=now_iso(),
        leads=leads,
    )
    ecgs.create_ecg(item, encode_signals([lead.signal for lead in upload.leads]))
    return summary(item)


def _owned(owner: str, ecg_id: str) -> EcgItem:
    """Another user's ECG is not found: the key includes the owner, so it cannot be read."""
    item = ecgs.get_ecg(owner, ecg_id) if is_valid(ecg_id, EcgId) else None
    if item is None:
        raise NotFound("no such ECG", "ecg_not_found")
    return item


def read(owner: str, ecg_id: str) -> EcgWithSignals:
    item = _owned(owner, ecg_id)
    signals = decode_signals(ecgs.get_payload(item))
    return EcgWithSignals(
        id=item.ecg_id,
        date=item.date,
        created_at=item.created_at,
        leads=[
            LeadWithSignal(lead.name, signal.size, signal.tolist())
            for lead, signal in zip(item.leads, signals, strict=True)
        ],
    )


def read_insights(owner: str, ecg_id: str) -> EcgInsights:
    """Stored insights only; an insight registered after upload is computed once and saved."""
    item = _owned(owner, ecg_id)
    stored = [dict(lead.insights.as_dict()) for lead in item.leads]  # type: ignore[no-untyped-call]
    if any(insights.missing(values) for values in stored):
        signals = decode_signals(ecgs.get_payload(item))
        for lead, values, signal in zip(item.leads, stored, signals, strict=True):
            values.update(insights.compute(signal, insights.missing(values)))
            lead.insights = values
        ecgs.save_leads(item)
    return EcgInsights(
        id=item.ecg_id,
        leads=[
            LeadInsights(name=lead.name, number_of_samples=int(lead.number_of_samples), **values)
            for lead, values in zip(item.leads, stored, strict=True)
        ],
    )


def list_page(owner: str, limit: int, after: str | None) -> tuple[list[EcgSummary], str | None]:
    items, last = ecgs.list_ecgs(owner, limit, after)
    return [summary(item) for item in items], last


def delete(owner: str, ecg_id: str) -> None:
    ecgs.delete_ecg(_owned(owner, ecg_id))
