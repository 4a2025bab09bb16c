"""The upload rules of API.md for POST /ecgs, in one place.

msgspec decodes and type-checks the body in one C pass (no coercion: 3.0, 1e3, true, "2" and
null are not integers; unknown fields are named); the few cross-field rules follow.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated

import msgspec
import numpy as np

from chalicelib.ecg.ids import is_valid_ecg_id
from chalicelib.errors import BadRequest
from chalicelib.http_body import decode_json

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
MAX_LEADS = 32

Sample = Annotated[int, msgspec.Meta(ge=INT32_MIN, le=INT32_MAX)]


class LeadBody(msgspec.Struct, forbid_unknown_fields=True):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=32)]
    signal: Annotated[list[Sample], msgspec.Meta(min_length=1)]
    number_of_samples: int | msgspec.UnsetType = msgspec.UNSET


class EcgBody(msgspec.Struct, forbid_unknown_fields=True):
    date: str
    leads: Annotated[list[LeadBody], msgspec.Meta(min_length=1, max_length=MAX_LEADS)]
    id: str | msgspec.UnsetType = msgspec.UNSET


@dataclass(frozen=True)
class LeadUpload:
    name: str
    signal: np.ndarray


@dataclass(frozen=True)
class EcgUpload:
    ecg_id: str | None
    date: str
    leads: list[LeadUpload]


def parse_date(value: str) -> datetime:
    """An ISO 8601 date-time (a time is required); no offset means UTC."""
    try:
        if not (11 <= len(value) <= 64 and value.isascii() and value.isprintable()):
            raise ValueError(value)
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise BadRequest(
            "invalid body: `date` must be an ISO 8601 date-time such as 2026-11-27T10:00:00Z - at `$.date`"
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def parse_upload(raw_body: bytes, content_type: str | None) -> EcgUpload:
    body = decode_json(raw_body, content_type, EcgBody)
    if body.id is not msgspec.UNSET and not is_valid_ecg_id(body.id):
        raise BadRequest("invalid body: `id` must be 1-128 characters of A-Z a-z 0-9 . _ : - - at `$.id`")
    parse_date(body.date)
    names: set[str] = set()
    leads = []
    for index, lead in enumerate(body.leads):
        if not lead.name.isprintable():
            raise BadRequest(
                f"invalid body: lead names may not contain control characters - at `$.leads[{index}].name`"
            )
        if lead.name in names:
            raise BadRequest(
                f"invalid body: lead name {lead.name!r} is repeated - at `$.leads[{index}].name`"
            )
        names.add(lead.name)
        if lead.number_of_samples is not msgspec.UNSET and lead.number_of_samples != len(lead.signal):
            raise BadRequest(
                f"invalid body: number_of_samples is {lead.number_of_samples} but the signal has"
                f" {len(lead.signal)} samples - at `$.leads[{index}].number_of_samples`"
            )
        leads.append(LeadUpload(lead.name, np.array(lead.signal, dtype=np.int32)))
        lead.signal = []  # free the boxed integers now: peak memory stays near one copy of the body
    return EcgUpload(None if body.id is msgspec.UNSET else body.id, body.date, leads)
