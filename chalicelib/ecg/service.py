"""ECG use cases: validate, compute insights, pack, store; and read them back for their owner."""

from __future__ import annotations

import uuid
from typing import Any

from chalicelib.clock import now_iso
from chalicelib.ecg import insights
from chalicelib.ecg.codec import decode_signals, encode_signals
from chalicelib.ecg.ids import is_valid_ecg_id
from chalicelib.ecg.validation import parse_upload
from chalicelib.errors import NotFound
from chalicelib.store import ecgs
from chalicelib.store.models import EcgItem, LeadSummaryAttribute


def summary(item: EcgItem) -> dict[str, Any]:
    return {
        "id": item.ecg_id,
        "date": item.date,
        "created_at": item.created_at,
        "leads": [
            {"name": lead.name, "number_of_samples": int(lead.number_of_samples)} for lead in item.leads
        ],
    }


def create(owner: str, raw_body: bytes, content_type: str | None) -> dict[str, Any]:
    upload = parse_upload(raw_body, content_type)
    leads = [
        LeadSummaryAttribute(
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
    item = ecgs.get_ecg(owner, ecg_id) if is_valid_ecg_id(ecg_id) else None
    if item is None:
        raise NotFound("no such ECG")
    return item


def read(owner: str, ecg_id: str) -> dict[str, Any]:
    item = _owned(owner, ecg_id)
    signals = decode_signals(ecgs.get_payload(item))
    view = summary(item)
    for lead, signal in zip(view["leads"], signals, strict=True):
        lead["signal"] = signal.tolist()
    return view


def read_insights(owner: str, ecg_id: str) -> dict[str, Any]:
    """Stored insights only; an insight registered after upload is computed once and saved."""
    item = _owned(owner, ecg_id)
    stored = [dict(lead.insights.as_dict()) for lead in item.leads]
    if any(insights.missing(values) for values in stored):
        signals = decode_signals(ecgs.get_payload(item))
        for lead, values, signal in zip(item.leads, stored, signals, strict=True):
            values.update(insights.compute(signal, insights.missing(values)))
            lead.insights = values
        ecgs.save_leads(item)
    return {
        "id": item.ecg_id,
        "leads": [
            {"name": lead.name, "number_of_samples": int(lead.number_of_samples), **values}
            for lead, values in zip(item.leads, stored, strict=True)
        ],
    }


def list_page(owner: str, limit: int, after: str | None) -> tuple[list[dict[str, Any]], str | None]:
    items, last = ecgs.list_ecgs(owner, limit, after)
    return [summary(item) for item in items], last


def delete(owner: str, ecg_id: str) -> None:
    ecgs.delete_ecg(_owned(owner, ecg_id))
