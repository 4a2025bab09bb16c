"""What every upload format reads into: the leads' names and rate first, then the samples as a stream.

A recording may hold billions of samples (a Holter file of 2 GiB), so readers check everything a
header can tell at once and hand the samples on in bounded chunks; what only the data can tell
(a truncated file, a value that is not an integer) surfaces as UnreadableFile mid-iteration.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, get_args

import msgspec
import numpy as np

from chalicelib.rules import LeadName, SamplingRate


class UnreadableFile(ValueError):
    """An uploaded file that breaks the format or the contract's rules; str() is the user-facing
    reason, stored as the failed ECG's `error`."""


@dataclass(frozen=True)
class RecordingHeader:
    lead_names: list[str]
    sampling_rate_hz: float | None


@dataclass
class Recording:
    """`chunks` yields (lead index, the next int32 samples of that lead) in file order, lazily:
    iterate it once; it raises UnreadableFile for problems only the data reveals."""

    header: RecordingHeader
    chunks: Iterator[tuple[int, np.ndarray]]


def describe(rule: Any) -> str:
    """A rule's human description (`1-32 characters`), read from its definition in chalicelib.rules."""
    return str(next(meta.description for meta in get_args(rule)[1:] if isinstance(meta, msgspec.Meta)))


def satisfies(value: object, rule: Any) -> bool:
    try:
        msgspec.convert(value, rule)
    except msgspec.ValidationError:
        return False
    return True


def lead_name_problem(name: str, earlier: set[str]) -> str | None:
    """Why a lead name may not be used (as POST /ecgs rules), or None; `earlier` holds the names
    already accepted for this recording."""
    if not satisfies(name, LeadName):
        return f"breaks the rule: {describe(LeadName)}"
    if not name.isprintable():
        return "contains control characters"
    if name in earlier:
        return "is repeated"
    return None


def sampling_rate_problem(rate_hz: float) -> str | None:
    return None if satisfies(rate_hz, SamplingRate) else f"breaks the rule: {describe(SamplingRate)}"
