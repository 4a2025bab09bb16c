"""The field rules of the contract, each defined once (msgspec constraints, no NumPy).

Request bodies are decoded against these types at the edge; path and query values are checked
with `is_valid`; validation messages show the rule's description instead of its regex.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec


def _pattern(regex: str, description: str) -> Any:
    _DESCRIPTIONS[regex] = description
    return msgspec.Meta(pattern=regex, description=description)


_DESCRIPTIONS: dict[str, str] = {}

# `me` (reserved for /users/me) is shorter than any username.
Username = Annotated[str, _pattern(r"^[A-Za-z0-9._@-]{3,64}\Z", "3-64 characters of A-Z a-z 0-9 . _ @ -")]
# `uploads` would be the path of POST /ecgs/uploads, not of an ECG.
EcgId = Annotated[
    str,
    _pattern(
        r"^(?!\.+\Z)(?!uploads\Z)[A-Za-z0-9._:-]{1,128}\Z",
        "1-128 characters of A-Z a-z 0-9 . _ : -, not only dots, not `uploads`",
    ),
]
Password = Annotated[str, msgspec.Meta(min_length=8, max_length=128, description="8-128 characters")]
LeadName = Annotated[str, msgspec.Meta(min_length=1, max_length=32, description="1-32 characters")]
SamplingRate = Annotated[float, msgspec.Meta(ge=1, le=20_000, description="1 to 20000 Hz")]
MAX_LEADS = 32  # per ECG, whether posted or uploaded
MAX_JSON_UPLOAD_BYTES = 2**28  # 256 MiB: an uploaded JSON file is parsed whole
INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
Sample = Annotated[int, msgspec.Meta(ge=INT32_MIN, le=INT32_MAX)]


def is_valid(value: str, rule: Any) -> bool:
    """Whether a path or query value satisfies a rule (an id, a username)."""
    try:
        msgspec.convert(value, rule)
    except msgspec.ValidationError:
        return False
    return True


def readable(message: str) -> str:
    """msgspec names a failed pattern by its regex; name the rule instead."""
    for regex, description in _DESCRIPTIONS.items():
        message = message.replace(f"matching regex {regex!r}", f"of {description}")
    return message
