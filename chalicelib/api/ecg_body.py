"""The POST /ecgs and POST /ecgs/uploads bodies: decoded and checked at the edge, handed on as an
EcgUpload or an UploadAnnouncement.

msgspec decodes and type-checks the body in one C pass (no coercion: 3.0, 1e3, true, "2" and
null are not integers; unknown fields are named); the few cross-field rules follow.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Literal

import msgspec
import numpy as np

from chalicelib.api.bodies import decode_json
from chalicelib.ecg.model import EcgUpload, LeadUpload, UploadAnnouncement
from chalicelib.errors import BadRequest
from chalicelib.rules import MAX_JSON_UPLOAD_BYTES, MAX_LEADS, EcgId, LeadName, Sample, SamplingRate

MAX_UPLOAD_BYTES = 2**31  # 2 GiB
# RFC 3339 section 5.6 (the offset may be left out: UTC). fromisoformat then checks the calendar.
RFC3339 = re.compile(r"\d{4}-\d\d-\d\d[Tt]\d\d:\d\d:\d\d(\.\d+)?([Zz]|[+-]\d\d:\d\d)?")


class LeadBody(msgspec.Struct, forbid_unknown_fields=True):
    name: LeadName
    signal: Annotated[list[Sample], msgspec.Meta(min_length=1)]
    number_of_samples: int | msgspec.UnsetType = msgspec.UNSET


class EcgBody(msgspec.Struct, forbid_unknown_fields=True):
    date: str
    leads: Annotated[list[LeadBody], msgspec.Meta(min_length=1, max_length=MAX_LEADS)]
    id: EcgId | msgspec.UnsetType = msgspec.UNSET
    sampling_rate_hz: SamplingRate | msgspec.UnsetType = msgspec.UNSET


class UploadBody(msgspec.Struct, forbid_unknown_fields=True):
    date: str
    format: Literal["edf", "json"]
    size_bytes: Annotated[int, msgspec.Meta(ge=1, le=MAX_UPLOAD_BYTES)]
    id: EcgId | msgspec.UnsetType = msgspec.UNSET


def _invalid(message: str, at: str) -> BadRequest:
    return BadRequest(f"invalid body: {message} - at `{at}`", "invalid_body")


def rfc3339_date(value: str) -> str:
    """The date as uploaded, with `Z` added when it has no offset (no offset means UTC), so
    every date the API returns is RFC 3339. A leap second (`:60`) is valid RFC 3339; the
    calendar check reads it as :59, since Python's datetime has no leap seconds."""
    match = RFC3339.fullmatch(value)
    try:
        if match is None:
            raise ValueError(value)
        datetime.fromisoformat(value[:17] + value[17:19].replace("60", "59") + value[19:].upper())
    except ValueError:
        raise _invalid(
            "`date` must be an RFC 3339 date-time such as 2026-11-27T10:00:00Z", "$.date"
        ) from None
    return value if match.group(2) else f"{value}Z"


def _leads(body: EcgBody) -> list[LeadUpload]:
    names: set[str] = set()
    leads = []
    for index, lead in enumerate(body.leads):
        at = f"$.leads[{index}]"
        if not lead.name.isprintable():
            raise _invalid("lead names may not contain control characters", f"{at}.name")
        if lead.name in names:
            raise _invalid(f"lead name {lead.name!r} is repeated", f"{at}.name")
        names.add(lead.name)
        if lead.number_of_samples is not msgspec.UNSET and lead.number_of_samples != len(lead.signal):
            raise _invalid(
                f"number_of_samples is {lead.number_of_samples} but the signal has {len(lead.signal)} samples",
                f"{at}.number_of_samples",
            )
        leads.append(LeadUpload(lead.name, np.array(lead.signal, dtype=np.int32)))
        lead.signal = []  # free this lead's boxed integers (~8x its int32 array) before the next is converted
    return leads


def parse_ecg(raw_body: str | bytes, content_type: str | None) -> EcgUpload:
    body = decode_json(raw_body, content_type, EcgBody)
    date = rfc3339_date(body.date)
    ecg_id = None if body.id is msgspec.UNSET else body.id
    sampling_rate_hz = None if body.sampling_rate_hz is msgspec.UNSET else body.sampling_rate_hz
    return EcgUpload(ecg_id, date, sampling_rate_hz, _leads(body))


def parse_upload(raw_body: str | bytes, content_type: str | None) -> UploadAnnouncement:
    body = decode_json(raw_body, content_type, UploadBody)
    if body.format == "json" and body.size_bytes > MAX_JSON_UPLOAD_BYTES:
        raise _invalid(f"a JSON file may have at most {MAX_JSON_UPLOAD_BYTES} bytes", "$.size_bytes")
    ecg_id = None if body.id is msgspec.UNSET else body.id
    return UploadAnnouncement(ecg_id, rfc3339_date(body.date), body.format, body.size_bytes)
