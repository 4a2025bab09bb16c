"""ECG use cases: compute insights, pack, store; announce uploads; read them back for their owner."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import msgspec
import numpy as np

from chalicelib.clock import now_iso
from chalicelib.ecg import codec, insights
from chalicelib.ecg.model import (
    EcgInsights,
    EcgSummary,
    EcgUpload,
    LeadBeats,
    LeadInsights,
    LeadSummary,
    SignalWindow,
    UploadAnnouncement,
    UploadTarget,
    UploadTicket,
)
from chalicelib.errors import BadRequest, NotFound, NotReady
from chalicelib.rules import EcgId, is_valid
from chalicelib.store import ecgs, signals
from chalicelib.store.models import EcgItem, LeadSummaryAttribute

MAX_SAMPLES_IN_ONE_READ = 2_000_000  # a longer recording is read by window
STREAM_SAMPLES = 1 << 20  # a lead read back whole (insights of a newer version) goes window by window
UPLOAD_DEADLINE = timedelta(hours=24)  # an announced ECG not ready by then: failed
NOT_UPLOADED = "the file was not uploaded within 24 hours of its announcement"
NOT_PROCESSED = "the file could not be processed within 24 hours of its announcement; please upload it again"


def overdue(item: EcgItem, now: datetime | None = None) -> str | None:
    """Why an announced ECG still waiting for its file, or still processing (every delivery of
    its notice died), a day after the announcement is failed; None when it is not."""
    if item.status not in ("awaiting_upload", "processing"):
        return None
    announced = datetime.fromisoformat(item.created_at.replace("Z", "+00:00"))
    if (now or datetime.now(UTC)) - announced <= UPLOAD_DEADLINE:
        return None
    return NOT_UPLOADED if item.status == "awaiting_upload" else NOT_PROCESSED


def _status(item: EcgItem) -> tuple[str, str | None]:
    """The status a client sees: an upload that never came, or never finished, is failed once
    its day is over, without anything having to run at that moment."""
    late = overdue(item)
    if late is not None:
        return "failed", late
    return item.status, item.error


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
    status, error = _status(item)
    return EcgSummary(
        id=item.ecg_id,
        date=item.date,
        created_at=item.created_at,
        status=status,
        sampling_rate_hz=_shown_rate(item),
        leads=leads,
        error=msgspec.UNSET if error is None else error,
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
    ecg_id = upload.ecg_id or _new_id(request_key)
    payload, index = codec.encode_signals([lead.signal for lead in upload.leads])
    item = EcgItem(
        owner,
        ecg_id,
        date=upload.date,
        created_at=now_iso(),
        sampling_rate_hz=upload.sampling_rate_hz,
        leads=_lead_attributes(upload),
        signal_key=signals.signal_key(owner, ecg_id),
        signal_index=index,
    )
    ecgs.create_ecg(item, payload, request_key)
    return summary(item)


def announce(owner: str, announcement: UploadAnnouncement, request_key: str | None = None) -> UploadTicket:
    """A pending ECG and a URL its file can be PUT to; processing starts when the file arrives."""
    ecg_id = announcement.ecg_id or _new_id(request_key)
    item = EcgItem(
        owner,
        ecg_id,
        date=announcement.date,
        created_at=now_iso(),
        status="awaiting_upload",
        upload_key=signals.upload_key(owner, ecg_id),
        upload_format=announcement.format,
        size_bytes=announcement.size_bytes,
    )
    ecgs.create_upload(item, request_key)
    assert item.upload_key is not None
    url, headers, expires_at = signals.upload_url(item.upload_key, announcement.size_bytes)
    return UploadTicket(item.ecg_id, item.status, UploadTarget("PUT", url, headers, expires_at))


def _owned(owner: str, ecg_id: str) -> EcgItem:
    """Another user's ECG is not found: the key includes the owner, so it cannot be read."""
    item = ecgs.get_ecg(owner, ecg_id) if is_valid(ecg_id, EcgId) else None
    if item is None:
        raise NotFound("no such ECG", "ecg_not_found")
    return item


def _ready(owner: str, ecg_id: str) -> EcgItem:
    item = _owned(owner, ecg_id)
    status, _ = _status(item)
    if status != "ready":
        raise NotReady(status)
    return item


def read(owner: str, ecg_id: str) -> EcgSummary:
    """The summary with every lead's signal, unless the recording is too long for one response
    or has no signal yet."""
    item = _owned(owner, ecg_id)
    if (
        item.status != "ready"
        or sum(int(lead.number_of_samples) for lead in item.leads) > MAX_SAMPLES_IN_ONE_READ
    ):
        return summary(item)
    return summary(item, codec.decode_signals(ecgs.get_payload(item)))


def read_insights(owner: str, ecg_id: str) -> EcgInsights:
    """Stored insights only; what a newer calculator version would compute differently is
    recomputed once and saved."""
    item = _ready(owner, ecg_id)
    stale = [insights.stale(dict(lead.insight_versions.as_dict())) for lead in item.leads]  # type: ignore[no-untyped-call]
    if any(stale):
        for index, (lead, names) in enumerate(zip(item.leads, stale, strict=True)):
            if names:
                values, versions, _ = _streamed(item, index)
                lead.insights = {**lead.insights.as_dict(), **values}  # type: ignore[no-untyped-call]
                lead.insight_versions = versions
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
    item = _ready(owner, ecg_id)
    index = _lead_index(item, lead_name)
    length = _lengths(item)[index]
    if start >= length:
        raise BadRequest(f"start must be before the lead's end ({length} samples)", "invalid_query")
    window = _window(item, index, start, count)
    return SignalWindow(item.ecg_id, lead_name, _shown_rate(item), start, window.tolist())


def _lengths(item: EcgItem) -> list[int]:
    return [int(lead.number_of_samples) for lead in item.leads]


def _window(item: EcgItem, index: int, start: int, count: int) -> np.ndarray:
    """Ranged reads of just the blocks the window needs (and of the object's index, unless this
    function has it already), whatever the recording's length."""
    return codec.read_window(
        ecgs.range_reader(item), int(item.signal_index), _lengths(item), index, start, count
    )


def _streamed(item: EcgItem, index: int) -> tuple[insights.Values, dict[str, int], np.ndarray | None]:
    """Every insight of one lead and its beats, from the signal read back window by window:
    memory stays bounded whatever the recording's length."""
    stream = insights.LeadStream(_rate(item))
    for start in range(0, _lengths(item)[index], STREAM_SAMPLES):
        stream.feed(_window(item, index, start, STREAM_SAMPLES))
    return stream.finish()


def _beats(item: EcgItem, index: int) -> np.ndarray:
    """The beats stored with the signal when processing found them; otherwise (an ECG posted
    whole, or a detector newer than the one that ran) found again from the signal."""
    versions = item.leads[index].insight_versions.as_dict()  # type: ignore[no-untyped-call]
    if "rhythm" not in insights.stale(dict(versions)):
        stored = codec.read_beats(ecgs.range_reader(item), int(item.signal_index), _lengths(item), index)
        if stored is not None:
            return stored
    _, _, beats = _streamed(item, index)
    assert beats is not None  # the ECG has a sampling rate
    return beats


def read_beats(owner: str, ecg_id: str, lead_name: str, start: int, end: int | None) -> LeadBeats:
    """The lead's beats in [start, end)."""
    item = _ready(owner, ecg_id)
    index = _lead_index(item, lead_name)
    rate = _rate(item)
    if rate is None:
        return LeadBeats(item.ecg_id, lead_name, None, None)
    beats = _beats(item, index)
    stop = int(item.leads[index].number_of_samples) if end is None else end
    return LeadBeats(
        item.ecg_id, lead_name, _shown_rate(item), beats[(beats >= start) & (beats < stop)].tolist()
    )


def list_page(owner: str, limit: int, after: str | None) -> tuple[list[EcgSummary], str | None]:
    items, last = ecgs.list_ecgs(owner, limit, after)
    return [summary(item) for item in items], last


def delete(owner: str, ecg_id: str) -> None:
    ecgs.delete_ecg(_owned(owner, ecg_id))
